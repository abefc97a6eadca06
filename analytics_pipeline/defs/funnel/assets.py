"""users_by_activation_stage and funnel_daily: daily partitions, backfilled in one run.

Both assets use `BackfillPolicy.single_run()`: a backfill of N days is one run whose SQL
computes all N days at once (the same statements as one day, over a range). Every run
rewrites exactly its days (delete + insert in one transaction), so re-running is harmless.
"""

from datetime import date, timedelta

import dagster as dg

from analytics_pipeline.defs.loaded import daily_partitions
from analytics_pipeline.defs.table_metadata import (
    OWNERS,
    PARTITION_ROW_COUNT_KEY,
    definition_metadata,
    table_metadata,
)
from analytics_pipeline.funnel import stages as sql
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.warehouse import WarehouseResource

USERS_BY_ACTIVATION_STAGE = dg.AssetKey("users_by_activation_stage")
FUNNEL_DAILY = dg.AssetKey("funnel_daily")
FUNNEL_KEYS = (USERS_BY_ACTIVATION_STAGE, FUNNEL_DAILY)

ONE_STAGE_CHECK = "one_stage_per_signed_up_user_and_day"
COUNTS_ADD_UP_CHECK = "stage_counts_add_up_to_signed_up_users"
MATCHES_STAGES_CHECK = "equals_aggregation_of_users_by_activation_stage"


def day_range(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The first and last day of the partitions this run materialises."""
    keys = context.partition_key_range
    return date.fromisoformat(keys.start), date.fromisoformat(keys.end)


def _failures_metadata(rows: list, first: date, last: date) -> dict[str, object]:
    return {
        "days_checked": f"{first.isoformat()} .. {last.isoformat()}",
        "failing_days": dg.MetadataValue.json([str(row[0]) for row in rows[:50]]),
        "failing_day_count": dg.MetadataValue.int(len(rows)),
    }


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey("user_journeys"), dg.AssetKey("journey_events")],
    group_name="funnel",
    kinds={"duckdb"},
    pool="funnel",
    owners=OWNERS,
    metadata=definition_metadata("users_by_activation_stage"),
    check_specs=[
        dg.AssetCheckSpec(
            ONE_STAGE_CHECK,
            asset=USERS_BY_ACTIVATION_STAGE,
            description="Every signed-up user is in exactly one stage on each day, nobody else.",
        )
    ],
    description=(
        "Table users_by_activation_stage, one row per signed-up user and day (daily "
        "partitions): the user's activation stage that day (SPEC §6: signed_up, activated, "
        "active or inactive) and the flags behind the daily flow. Each materialisation shows "
        "the users per stage, plotted over the partitions."
    ),
)
def users_by_activation_stage(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, analytics: AnalyticsResource
):
    first, last = day_range(context)
    analytics.run_in_background(context.log.info)
    w = analytics.inactive_after_days
    with warehouse.connect() as conn:
        sql.compute_stages(conn, first, last, inactive_after_days=w)
        by_day = sql.stage_counts(conn, first, last)
        failures = sql.days_with_wrong_stage_rows(conn, first, last)
        table = table_metadata(conn, "users_by_activation_stage")
    for day, counts in by_day.items():
        users = sum(counts.values())
        context.add_asset_metadata(
            {
                **table,
                PARTITION_ROW_COUNT_KEY: dg.MetadataValue.int(users),
                "users": dg.MetadataValue.int(users),
                **{stage: dg.MetadataValue.int(n) for stage, n in counts.items()},
                "inactive_after_days": dg.MetadataValue.int(w),
            },
            partition_key=day.isoformat(),
        )
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(
        check_name=ONE_STAGE_CHECK,
        passed=not failures,
        metadata=_failures_metadata(failures, first, last),
    )


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[USERS_BY_ACTIVATION_STAGE],
    group_name="funnel",
    kinds={"duckdb"},
    pool="funnel",
    owners=OWNERS,
    metadata=definition_metadata("funnel_daily"),
    check_specs=[
        dg.AssetCheckSpec(
            COUNTS_ADD_UP_CHECK,
            asset=FUNNEL_DAILY,
            description="signed_up + activated + active + inactive = users signed up by the day.",
        ),
        dg.AssetCheckSpec(
            MATCHES_STAGES_CHECK,
            asset=FUNNEL_DAILY,
            description="Each row equals the aggregation of users_by_activation_stage that day.",
        ),
    ],
    description=(
        "Table funnel_daily, one row per day (daily partitions): the onboarding funnel "
        "(SPEC §6), i.e. users per stage, new sign-ups, newly activated and newly inactive "
        "users. Each partition's materialisation shows these counts and their change from the "
        "day before; the Plots tab draws them over the days."
    ),
)
def funnel_daily(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, analytics: AnalyticsResource
):
    first, last = day_range(context)
    analytics.run_in_background(context.log.info)
    w = analytics.inactive_after_days
    with warehouse.connect() as conn:
        days = sql.compute_daily(conn, first, last, inactive_after_days=w)
        before = sql.funnel_days(conn, first - timedelta(days=1), first - timedelta(days=1))
        not_adding_up = sql.days_with_wrong_stage_total(conn, first, last)
        not_matching = sql.days_where_daily_differs_from_stages(conn, first, last)
        table = table_metadata(conn, "funnel_daily")
    previous = before[0] if before else None
    for today in days:
        context.add_asset_metadata(
            {
                **table,
                PARTITION_ROW_COUNT_KEY: dg.MetadataValue.int(1),
                "funnel": dg.MetadataValue.md(sql.counts_markdown(today, previous)),
                **{name: dg.MetadataValue.int(n) for name, n in today.counts().items()},
                **{
                    f"{name}_change": dg.MetadataValue.int(n)
                    for name, n in sql.deltas(today, previous).items()
                },
            },
            partition_key=today.day.isoformat(),
        )
        previous = today
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(
        check_name=COUNTS_ADD_UP_CHECK,
        passed=not not_adding_up,
        metadata=_failures_metadata(not_adding_up, first, last),
    )
    yield dg.AssetCheckResult(
        check_name=MATCHES_STAGES_CHECK,
        passed=not not_matching,
        metadata=_failures_metadata([(d,) for d in not_matching], first, last),
    )
