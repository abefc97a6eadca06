"""Raw-table assets: one run ingests the offset ranges its sensor requested."""

import dagster as dg
from pydantic import Field

from analytics_pipeline.defs.table_metadata import (
    OWNERS,
    definition_metadata,
    tables_metadata,
)
from analytics_pipeline.events.wire import Kind
from analytics_pipeline.ingest import raw_checks
from analytics_pipeline.ingest.loop import IngestReport, ingest_ranges
from analytics_pipeline.ingest.ranges import OffsetRange
from analytics_pipeline.ingest.writer import read_ledger
from analytics_pipeline.resources.analytics import AnalyticsResource
from analytics_pipeline.resources.kafka import KafkaResource
from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.warehouse.raw_tables import RAW_TABLES

DEAD_LETTER_EVENTS = dg.AssetKey("dead_letter_events")

# Written by both raw assets, in the transaction of their rows; each ingest run reports a
# materialisation of it, so the table has its page, schema, row count and plots.
dead_letter_events = dg.AssetSpec(
    DEAD_LETTER_EVENTS,
    group_name="ingest",
    kinds={"duckdb", "kafka"},
    owners=OWNERS,
    metadata=definition_metadata("dead_letter_events"),
    description=(
        "Table dead_letter_events, one row per Kafka message that failed validation (key "
        "topic, kafka_partition, kafka_offset): the reason, the raw_value exactly as received "
        "(BLOB) and ingested_at. Written by raw_clickstream_events and raw_backend_events; "
        "each ingest run reports the dead letters it added, in total and by reason."
    ),
)


class RangeConfig(dg.Config):
    partition: int
    start: int
    end: int


class IngestConfig(dg.Config):
    """The offset ranges to ingest; empty means: everything up to the current end offsets."""

    topic: str | None = Field(
        default=None,
        description=(
            "The topic the ranges were planned on (the ingest sensor sets it); default: the "
            "configured topic. A run reads what it was planned for, whatever the settings of "
            "the daemon that launches it."
        ),
    )
    ranges: list[RangeConfig] = Field(default_factory=list)


def _metadata(report: IngestReport, lag: dict[int, int]) -> dict[str, dg.MetadataValue]:
    dead = sum(report.dead_letters.values())
    reasons = "\n".join(
        f"| {reason} | {count} |" for reason, count in sorted(report.dead_letters.items())
    )
    return {
        "rows_added": dg.MetadataValue.int(report.stored),
        "messages_read": dg.MetadataValue.int(report.received),
        "duplicates_skipped": dg.MetadataValue.int(report.duplicates),
        "already_ingested_skipped": dg.MetadataValue.int(report.already_ingested),
        "dead_letters": dg.MetadataValue.int(dead),
        **{f"dead_letters_{r}": dg.MetadataValue.int(n) for r, n in report.dead_letters.items()},
        "dead_letters_by_reason": dg.MetadataValue.md(
            "| reason | count |\n|---|---|\n" + reasons if reasons else "none"
        ),
        "offset_ranges": dg.MetadataValue.json(
            [{"partition": r.partition, "start": r.start, "end": r.end} for r in report.read]
        ),
        "lost_to_retention": dg.MetadataValue.int(report.lost_to_retention),
        "ledger_rewound": dg.MetadataValue.json({str(p): o for p, o in report.rewound.items()}),
        "group_commit_failures": dg.MetadataValue.int(report.group_commit_failures),
        "remaining_lag": dg.MetadataValue.int(sum(lag.values())),
        **{f"remaining_lag_p{p}": dg.MetadataValue.int(v) for p, v in sorted(lag.items())},
        "remaining_lag_by_partition": dg.MetadataValue.json({str(p): v for p, v in lag.items()}),
        "event_time_min": dg.MetadataValue.text(str(report.min_ts) if report.min_ts else "-"),
        "event_time_max": dg.MetadataValue.text(str(report.max_ts) if report.max_ts else "-"),
        "transactions": dg.MetadataValue.int(report.batches),
        "commit_conflicts_retried": dg.MetadataValue.int(report.conflicts_retried),
    }


def build_raw_asset(kind: Kind, topic_attr: str) -> dg.AssetsDefinition:
    table = RAW_TABLES[kind]
    checks = raw_checks.check_names()

    @dg.asset(
        name=table,
        group_name="ingest",
        # No pool: raw writers of different partitions run side by side (one per value of
        # the analytics/ingest_writer tag, defs/ingest/writers.py); writers of the same
        # partition wait for its lock. Journeys and alerts keep pool `ingest`.
        kinds={"duckdb", "kafka"},
        owners=OWNERS,
        metadata=definition_metadata(table),
        description=(
            f"Table {table}, one row per valid {kind} event from Kafka (key event_id, "
            "de-duplicated; columns of SPEC §9 plus kafka_partition, kafka_offset and "
            "ingested_at). Invalid messages go to dead_letter_events; ingest_offsets is "
            "written in the same transaction. Each run shows rows added, dead letters and the "
            "remaining lag."
        ),
        check_specs=[dg.AssetCheckSpec(name, asset=table) for name in checks],
    )
    def raw_asset(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        kafka: KafkaResource,
        warehouse: WarehouseResource,
        analytics: AnalyticsResource,
    ) -> dg.MaterializeResult:
        topic = config.topic or getattr(kafka, topic_attr)
        consumer = kafka.consumer()
        try:
            ends = kafka.end_offsets(topic, consumer)
            if not ends:
                raise kafka.missing_topic(topic, f"ANALYTICS_{kind.upper()}_TOPIC")
            ranges = [OffsetRange(r.partition, r.start, r.end) for r in config.ranges] or [
                OffsetRange(p, 0, end) for p, end in ends.items()
            ]
            unsatisfiable = [r for r in ranges if r.end > ends.get(r.partition, 0)]
            if unsatisfiable:
                raise dg.Failure(
                    f"{topic} cannot supply the offsets this run was planned for: "
                    + "; ".join(
                        f"partition {r.partition} offsets {r.start}-{r.end}, but the topic "
                        f"ends at {ends.get(r.partition, 0)}"
                        for r in unsatisfiable
                    )
                    + ". The topic was recreated or its offsets reset since; the ingest sensor "
                    "plans its ranges again."
                )
            with warehouse.connect() as conn:
                report = ingest_ranges(
                    consumer,
                    conn,
                    kind=kind,
                    topic=topic,
                    ranges=ranges,
                    max_batch=kafka.max_batch,
                    max_batch_bytes=kafka.max_batch_bytes,
                    topic_ends=ends,
                    warn=context.log.warning,
                    progress=lambda r: context.log.info(
                        f"{topic}: {r.received} messages read, {r.stored} stored, "
                        f"{sum(r.dead_letters.values())} dead letters"
                    ),
                )
                ledger = read_ledger(conn, topic)
                results = raw_checks.run_checks(
                    conn,
                    kind=kind,
                    topic=topic,
                    warn_share=analytics.dead_letter_warn_share,
                    batch_ids=report.batch_ids,
                    lost_by_partition=report.lost_by_partition,
                )
                tables = tables_metadata(conn, (table, "dead_letter_events"))
        finally:
            consumer.close()
        lag = {p: max(0, end - ledger.get(p, 0)) for p, end in ends.items()}
        if report.lost_to_retention:
            context.log.warning(
                f"{report.lost_to_retention} offsets of {topic} were deleted by Kafka retention "
                "before they could be ingested"
            )
        context.log_event(
            dg.AssetMaterialization(
                asset_key=DEAD_LETTER_EVENTS,
                description=f"Dead letters from {topic}",
                metadata={
                    **tables["dead_letter_events"],
                    "dead_letters_added": dg.MetadataValue.int(sum(report.dead_letters.values())),
                    **{
                        f"dead_letters_{reason}": dg.MetadataValue.int(n)
                        for reason, n in report.dead_letters.items()
                    },
                },
            )
        )
        return dg.MaterializeResult(
            metadata={**tables[table], **_metadata(report, lag)},
            check_results=[
                dg.AssetCheckResult(
                    check_name=r.name,
                    asset_key=table,
                    passed=r.passed,
                    severity=dg.AssetCheckSeverity(r.severity),
                    description=r.description,
                    metadata=r.metadata,
                )
                for r in results
            ],
        )

    return raw_asset


raw_clickstream_events = build_raw_asset("clickstream", "clickstream_topic")
raw_backend_events = build_raw_asset("backend", "backend_topic")
