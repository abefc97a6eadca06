"""The Streamlit script `analytics-pipeline dashboard` serves: the pages and their navigation."""

from __future__ import annotations

import streamlit as st

from analytics_pipeline.dashboard.common import guarded, warm_up
from analytics_pipeline.dashboard.views import alerts, funnel, health, journey


def main() -> None:
    st.set_page_config(
        page_title="analytics_pipeline", page_icon=":material/monitoring:", layout="wide"
    )
    pages = [
        st.Page(guarded(funnel.render), title="Funnel", url_path="funnel", default=True),
        st.Page(guarded(journey.render), title="Journey explorer", url_path="journey"),
        st.Page(guarded(alerts.render), title="Alerts", url_path="alerts"),
        st.Page(guarded(health.render), title="Pipeline health", url_path="health"),
    ]
    warm_up()
    st.navigation(pages).run()


main()
