"""Pipeline health: ingest lag per partition, the journey stream's lag, dead letters, the
latest run of each job, and stale funnel days."""

from __future__ import annotations

import streamlit as st

from analytics_pipeline.dashboard import outside
from analytics_pipeline.dashboard.common import lake_connection, md, settings
from analytics_pipeline.dashboard.queries import health as queries
from analytics_pipeline.dashboard.ranges import DayRange
from analytics_pipeline.dashboard.views import charts

TABLES = (
    "ingest_offsets",
    "dead_letter_events",
    "funnel_daily",
    "user_journeys",
    "pipeline_watermarks",
)


@st.cache_data(ttl=10, show_spinner=False)
def _kafka_ends() -> tuple[dict[tuple[str, int], int], str | None]:
    """Kafka's end offsets, or the reason there are none (cached briefly: one look-up per
    few seconds, whatever the number of viewers)."""
    try:
        return outside.kafka_end_offsets(settings()), None
    except Exception as error:  # any failure: show the ledger alone
        return {}, str(error).splitlines()[0] if str(error) else type(error).__name__


@st.cache_data(ttl=10, show_spinner=False)
def _stream_lag(lake_id: str | None, watermark: int) -> tuple[outside.StreamLag | None, str | None]:
    try:
        return outside.journey_stream_lag(settings(), lake_id, watermark), None
    except Exception as error:  # a missing topic, Kafka down: say so, show the rest
        return None, str(error).splitlines()[0] if str(error) else type(error).__name__


@st.cache_data(ttl=15, show_spinner=False)
def _dagster() -> tuple[outside.DagsterView | None, str | None]:
    try:
        return outside.dagster_view(), None
    except Exception as error:  # the instance is optional here
        first_line = str(error).splitlines()[0] if str(error) else ""
        return None, f"{type(error).__name__}: {first_line}"


def render(day_range: DayRange) -> None:
    st.title("Pipeline health")
    with lake_connection(*TABLES) as conn:
        ledger = queries.ingest_ledger(conn)
        dead_by_day = queries.dead_letters_by_day(conn, day_range)
        sample = queries.dead_letter_sample(conn, day_range)
        missing = queries.missing_funnel_days(conn, day_range)
        behind = queries.funnel_days_behind_signups(conn, day_range)
        lake_id, journeys_watermark = queries.stream_lake_state(conn)

    st.subheader("Ingest lag per partition")
    ends, kafka_error = _kafka_ends()
    if kafka_error is None:
        lag = outside.ingest_lag(ledger, ends)
        st.caption(
            "Lag = Kafka's end offset − the next offset the pipeline will read (committed in "
            "the lake with the rows): messages not ingested yet."
        )
        st.metric("Total lag (messages)", f"{int(lag['lag'].fillna(0).sum()):,}")
        st.dataframe(lag, hide_index=True, width="stretch")
    else:
        st.warning(
            f"Kafka did not answer ({md(kafka_error)}), so the lag is unknown; below is the "
            "offset ledger alone: the next offset the pipeline will read per partition."
        )
        st.dataframe(ledger, hide_index=True, width="stretch")

    st.subheader("Journey stream")
    stream, stream_error = _stream_lag(lake_id, journeys_watermark)
    if stream is None:
        st.warning(
            f"The journey stream's position is unknown: {md(stream_error or '')}. Ingest, "
            "journeys and alerts go on; the stream catches up once it can publish."
        )
    else:
        st.metric("Journey stream lag (lake snapshots)", f"{stream.lag:,}")
        st.caption(
            f"Topic {md(stream.topic)} holds every journey action derived from the raw rows "
            f"committed up to lake snapshot {stream.position:,}; the journeys have derived up "
            f"to snapshot {stream.lake_watermark:,}. Snapshots count every commit to the lake, "
            "not only raw batches. The live ingest run publishes each micro-batch right after "
            "its journeys."
        )

    st.subheader("Dead letters")
    total = int(dead_by_day["dead_letters"].sum()) if len(dead_by_day) else 0
    st.metric(f"Dead letters in {day_range.label}", f"{total:,}")
    if total:
        chart = dead_by_day.pivot_table(
            index="day", columns="reason", values="dead_letters", aggfunc="sum", fill_value=0
        ).reset_index()
        palette = ["#e6550d", "#fdae6b", "#756bb1", "#31a354", "#3182bd", "#969696"]
        reasons = [str(name) for name in chart.columns if name != "day"]
        colours = {name: palette[i % len(palette)] for i, name in enumerate(reasons)}
        st.altair_chart(
            charts.stacked(chart, "day", colours, "dead_letters", height=220), width="stretch"
        )
        by_reason = (
            dead_by_day.groupby("reason", as_index=False)["dead_letters"]
            .sum()
            .sort_values(["dead_letters", "reason"], ascending=[False, True])
        )
        st.dataframe(by_reason, hide_index=True)
        st.caption(
            f"The newest {len(sample)} dead letters; raw values shown as text, cut to "
            f"{queries.SAMPLE_BYTES} bytes (invalid UTF-8 as \\x escapes)."
        )
        st.dataframe(sample, hide_index=True, width="stretch")

    st.subheader("Latest run of each job")
    view, dagster_error = _dagster()
    if dagster_error:
        st.warning(f"The Dagster instance could not be read: {md(dagster_error)}")
    elif view is None:
        st.info(
            "DAGSTER_HOME is not set for the dashboard, so runs are not shown (`make run` sets "
            "it; the Dagster UI on http://127.0.0.1:3000 lists them)."
        )
    elif view.runs.empty:
        st.caption("No run yet.")
    else:
        st.caption(f"Among the {outside.RECENT_RUNS} newest runs.")
        st.dataframe(view.runs, hide_index=True, width="stretch")

    st.subheader("Stale funnel days")
    if view is not None and view.stale_partitions is not None:
        stale = view.stale_partitions
        st.metric("Stale partitions (staleness sensor)", f"{len(stale):,}")
        if stale:
            st.write(md(", ".join(stale)))
    st.metric("Days with no funnel row", f"{len(missing):,}")
    if len(missing):
        st.dataframe(missing, hide_index=True)
    st.metric("Days behind the sign-ups", f"{len(behind):,}")
    st.caption(
        "Days with no funnel row: between the first sign-up and the newest computed day. "
        "Days behind the sign-ups: their stage counts miss users whose sign-up arrived after "
        "the day was computed. Recompute them by materialising those `funnel_daily` "
        "partitions (the staleness sensor does it by itself)."
    )
    if len(behind):
        st.dataframe(behind, hide_index=True)
