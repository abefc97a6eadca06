"""Journey explorer: one user's (or anonymous visitor's) actions in time order and their stage
day by day. The searched id is kept in the URL (`?user=…`) so a journey can be shared."""

from __future__ import annotations

import streamlit as st

from analytics_pipeline.dashboard.common import lake_connection, md, settings
from analytics_pipeline.dashboard.queries import journey as queries
from analytics_pipeline.dashboard.ranges import DayRange

TABLES = (
    "user_journeys",
    "user_identities",
    "journey_events_by_user",
    "journey_events_anonymous",
    "user_meaningful_days",
    "funnel_daily",
)


def render(day_range: DayRange) -> None:
    st.title("Journey explorer")
    typed = st.text_input(
        "User id or anonymous id",
        value=st.query_params.get("user", ""),
        placeholder="e.g. user-42 or an anonymous id from the browser",
    ).strip()
    if typed:
        st.query_params["user"] = typed
    elif "user" in st.query_params:
        del st.query_params["user"]
    if not typed:
        st.info("Type a user id (or an anonymous id) and press Enter.")
        return

    with lake_connection(*TABLES) as conn:
        match = queries.find_journey(conn, typed)
        if match.kind == "none":
            similar = queries.similar_user_ids(conn, typed)
            st.warning(f"No user or anonymous visitor has the id {md(typed)}.")
            if similar:
                st.write("User ids containing it:")
                st.dataframe({"user_id": similar}, hide_index=True)
            return
        profile = queries.user_profile(conn, match.user_id) if match.user_id else None
        total, actions = queries.journey_actions(conn, match, day_range)
        history = (
            queries.stage_history(
                conn,
                match.user_id,
                day_range,
                inactive_after_days=settings().inactive_after_days,
            )
            if match.user_id
            else None
        )

    if match.kind == "user":
        st.subheader(f"Journey of {md(match.user_id)}")
        if match.anonymous_id:
            st.caption(f"Found through the anonymous id {md(match.anonymous_id)}.")
    else:
        st.subheader(f"Anonymous visitor {md(match.anonymous_id)}")
        st.caption("No user is linked to this anonymous id yet: its events are outside the funnel.")

    if profile:
        inferred = " (inferred from the first action)" if profile["signup_inferred"] else ""
        st.markdown(
            f"Signed up **{profile['signed_up_at']:%Y-%m-%d %H:%M} UTC**{inferred} · "
            f"last seen **{profile['last_seen_at']:%Y-%m-%d %H:%M} UTC**"
        )
        columns = st.columns(2)
        columns[0].metric("Meaningful days", f"{profile['meaningful_days']:,}")
        columns[1].metric("Actions (all time)", f"{profile['actions']:,}")

    st.subheader("Actions")
    shown = f"; the first {len(actions):,} are shown" if total > len(actions) else ""
    st.caption(
        f"{total:,} action(s) in {md(day_range.label)}, oldest first (UTC){shown}. "
        "`attributed_via` names the anonymous id through which a browser event sent before "
        "login was attributed to the user."
    )
    st.dataframe(actions, hide_index=True, width="stretch")

    if history is not None:
        st.subheader("Stage, day by day")
        if history.empty:
            st.caption(f"No funnel day in {md(day_range.label)} has a stage for this user.")
        else:
            st.dataframe(history, hide_index=True, width="stretch")
