"""The lake's upkeep as an asset: its materialisation records the files before and after."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from analytics_pipeline.resources.warehouse import WarehouseResource
from analytics_pipeline.warehouse import retry_conflicts
from analytics_pipeline.warehouse.maintenance import MaintenanceResult, maintain


def _metadata(result: MaintenanceResult, retention_days: float) -> dict[str, dg.MetadataValue]:
    before, after = result.before, result.after
    return {
        "files_before": dg.MetadataValue.int(before.files),
        "files_after": dg.MetadataValue.int(after.files),
        "bytes_before": dg.MetadataValue.int(before.bytes),
        "bytes_after": dg.MetadataValue.int(after.bytes),
        "delete_files_after": dg.MetadataValue.int(after.delete_files),
        "snapshots_before": dg.MetadataValue.int(before.snapshots),
        "snapshots_after": dg.MetadataValue.int(after.snapshots),
        "files_merged": dg.MetadataValue.int(result.files_merged),
        "files_rewritten": dg.MetadataValue.int(result.files_rewritten),
        "files_deleted": dg.MetadataValue.int(result.files_deleted),
        "time_travel_retention_days": dg.MetadataValue.float(float(retention_days)),
    }


@dg.asset(
    group_name="maintenance",
    pool="maintenance",
    kinds={"duckdb"},
    owners=["team:data-platform"],
    description=(
        "The lake's data files. Each materialisation merges small files, rewrites files with "
        "many deleted rows, expires snapshots older than the time-travel retention "
        "(ANALYTICS_LAKE_RETENTION_DAYS, default 7) and deletes files nothing refers to; its "
        "metadata shows the file count and bytes before and after."
    ),
)
def lake_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.Output:
    retention = timedelta(days=warehouse.snapshot_retention_days)
    with warehouse.connect() as conn:
        result = retry_conflicts(
            lambda: maintain(conn, retention=retention, now=datetime.now(UTC)),
            what="maintaining the lake",
            conn=conn,
            on_retry=context.log.warning,
        )
    context.log.info(
        f"lake files {result.before.files} -> {result.after.files}, bytes "
        f"{result.before.bytes} -> {result.after.bytes}, snapshots "
        f"{result.before.snapshots} -> {result.after.snapshots}"
    )
    return dg.Output(None, metadata=_metadata(result, warehouse.snapshot_retention_days))


lake_maintenance_job = dg.define_asset_job(
    "lake_maintenance_job",
    selection=[lake_files],
    description="Compact the lake and expire old snapshots.",
    executor_def=dg.in_process_executor,
)

lake_maintenance_schedule = dg.ScheduleDefinition(
    name="lake_maintenance_hourly",
    job=lake_maintenance_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: merge the small files that micro-batch commits leave behind.",
)
