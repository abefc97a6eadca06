"""Alerts: every alert of the range with its rule, user, status, attempts and last error;
failed and pending ones first and coloured."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics_pipeline.dashboard.common import lake_connection
from analytics_pipeline.dashboard.queries import alerts as queries
from analytics_pipeline.dashboard.ranges import DayRange

STATUS_STYLE = {
    "failed": "background-color: #f8d0d0; color: #7a0000; font-weight: bold",
    "pending": "background-color: #fcefc2; color: #6b4f00; font-weight: bold",
}
STATUS_MARK = {
    "failed": "✖ failed",
    "pending": "⚠ pending",
    "sent": "✔ sent",
    "skipped": "skipped",
}


def _style(frame: pd.DataFrame) -> pd.io.formats.style.Styler:
    """Colour the status cells of failed and pending alerts (the status column alone: styling
    every cell of 500 rows costs a visible fraction of a second)."""

    def cell_style(value: object) -> str:
        return STATUS_STYLE.get(str(value).split()[-1], "")

    return frame.style.map(cell_style, subset=["status"])


def render(day_range: DayRange) -> None:
    st.title("Alerts")
    with lake_connection("alerts") as conn:
        rules = queries.alert_rules(conn)
        picked_rules = st.sidebar.multiselect("Rule", rules, key="alert_rules")
        picked_status = st.sidebar.multiselect(
            "Status", list(queries.ALERT_STATUSES), key="alert_statuses"
        )
        counts = queries.alert_counts(conn, day_range)
        total, rows = queries.alerts_list(conn, day_range, picked_rules, picked_status)

    st.caption(f"Alerts created in {day_range.label} (UTC).")
    columns = st.columns(4)
    for column, status in zip(columns, queries.ALERT_STATUSES, strict=True):
        column.metric(status.capitalize(), f"{counts[status]:,}")
    if counts["failed"]:
        st.error(
            f"{counts['failed']:,} alert(s) failed: Slack rejected them; see last_error.",
            icon=":material/error:",
        )
    if counts["pending"]:
        st.warning(
            f"{counts['pending']:,} alert(s) pending: not posted yet, retried while Slack is "
            "unreachable.",
            icon=":material/schedule:",
        )
    shown = f" (the first {len(rows):,})" if total > len(rows) else ""
    st.subheader(f"{total:,} alert(s){shown}")
    if rows.empty:
        st.caption("No alert matches the range and filters.")
        return
    rows["status"] = [STATUS_MARK.get(s, s) for s in rows["status"]]
    st.dataframe(_style(rows), hide_index=True, width="stretch")
