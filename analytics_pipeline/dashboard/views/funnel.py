"""Funnel: stage counts over time, the daily flow, conversion, and who is in a stage."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from analytics_pipeline.dashboard.common import RUN_HINT, EmptyLakeError, lake_connection
from analytics_pipeline.dashboard.queries import funnel as queries
from analytics_pipeline.dashboard.ranges import DayRange
from analytics_pipeline.dashboard.views import charts

TABLES = ("funnel_daily", "users_by_activation_stage")
STAGE_LABELS = {
    "signed_up": "Signed up",
    "activated": "Activated",
    "active": "Active",
    "inactive": "Inactive",
}


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1%}"


def render(day_range: DayRange) -> None:
    st.title("Funnel")
    with lake_connection(*TABLES) as conn:
        summary = queries.funnel_summary(conn, day_range)
        if summary.last_day is None:
            if queries.funnel_bounds(conn)[1] is None:
                raise EmptyLakeError(f"No funnel day has been computed yet. {RUN_HINT}")
            st.info(
                f"No funnel day has been computed in {day_range.label}. Pick another range, or "
                "materialise the missing `funnel_daily` partitions in the Dagster UI "
                "(http://127.0.0.1:3000)."
            )
            return
        series = queries.funnel_series(conn, day_range)
        conversion = queries.conversion(conn, day_range, summary.last_day)
        day, stage = _stage_pickers(series, summary.last_day)
        total, users = queries.users_in_stage(conn, day, stage)

    st.caption(
        f"{day_range.label}: {summary.days} computed day(s), "
        f"{summary.first_day} – {summary.last_day}."
    )
    st.subheader(f"Users per stage on {summary.last_day}")
    columns = st.columns(4)
    for column, name in zip(columns, queries.STAGES, strict=True):
        column.metric(STAGE_LABELS[name], f"{summary.stages[name]:,}")

    st.subheader("Flow over the range")
    flow = st.columns(3)
    flow[0].metric("New sign-ups", f"{summary.new_signups:,}")
    flow[1].metric("Newly activated", f"{summary.newly_activated:,}")
    flow[2].metric("Newly inactive", f"{summary.newly_inactive:,}")

    st.subheader("Conversion")
    rates = st.columns(2)
    rates[0].metric(
        "Sign-up → activated",
        _percent(conversion.rate(conversion.signups_activated, conversion.signups)),
        help="Users who signed up in the range and had a meaningful action by its last day.",
    )
    rates[0].caption(
        f"{conversion.signups_activated:,} of {conversion.signups:,} users who signed up in "
        f"the range had a meaningful action by {conversion.day}."
    )
    rates[1].metric(
        "Activated → active",
        _percent(conversion.rate(conversion.activated_active, conversion.activated)),
        help="Users first active in the range with meaningful actions on 2+ days by its end.",
    )
    rates[1].caption(
        f"{conversion.activated_active:,} of {conversion.activated:,} users first activated "
        f"in the range had meaningful actions on two days or more by {conversion.day}."
    )

    st.subheader("Users per stage, day by day")
    st.altair_chart(charts.stacked(series, "day", charts.STAGE_COLOURS, "users"), width="stretch")
    st.subheader("Daily flow")
    st.altair_chart(charts.lines(series, "day", charts.FLOW_COLOURS, "users"), width="stretch")

    st.subheader(f"Users in {STAGE_LABELS[stage]} on {day}")
    shown = f" (the first {len(users):,} by user id)" if total > len(users) else ""
    st.caption(f"{total:,} users{shown}.")
    st.dataframe(users, hide_index=True, width="stretch")


def _stage_pickers(series: pd.DataFrame, last_day: date) -> tuple[date, str]:
    st.sidebar.divider()
    days = [value.date() for value in reversed(series["day"].tolist())] or [last_day]
    day = st.sidebar.selectbox("Users in a stage: day", days, index=0, key="stage_day")
    stage = st.sidebar.selectbox(
        "Users in a stage: stage",
        list(queries.STAGES),
        format_func=STAGE_LABELS.__getitem__,
        key="stage_name",
    )
    return day, stage
