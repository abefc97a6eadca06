"""What every page shares: the lake, the range picker in the URL, escaping, and the messages
shown instead of a stack trace when the lake is unreachable or empty."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import duckdb
import streamlit as st

from analytics_pipeline.dashboard import ranges
from analytics_pipeline.dashboard.lakestate import NOT_CREATED_MESSAGE, not_created_yet
from analytics_pipeline.dashboard.queries.shared import missing_tables
from analytics_pipeline.dashboard.ranges import PRESETS, DayRange
from analytics_pipeline.settings import ConfigError, Settings, load_settings
from analytics_pipeline.warehouse import Lake, LakeUnavailableError, LakeVersionError, reading

log = logging.getLogger(__name__)
RUN_HINT = (
    "Run `make run` (it starts the local stack, the traffic simulator and Dagster, which fills "
    "the lake within a few minutes), or `make up` if only the stack is down."
)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


class EmptyLakeError(RuntimeError):
    """The lake lacks the tables (or rows) a page needs; the message says what to run."""


def md(text: object) -> str:
    """`text` (a user string) escaped for Streamlit Markdown: it shows as written, never as
    formatting, HTML, LaTeX or an emoji code."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


@st.cache_resource
def warm_up() -> threading.Thread:
    """Once per server: attach the lake and import the health page's clients in the
    background, so the first page view does not pay for them."""

    def work() -> None:
        with contextlib.suppress(Exception):
            from analytics_pipeline.dashboard import outside

            with reading(lake()):
                pass
            outside.warm_up()

    thread = threading.Thread(target=work, name="dashboard-warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def lake() -> Lake:
    return Lake.from_settings(settings())


@contextmanager
def lake_connection(*tables: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection inside one transaction (the page sees one snapshot); raises
    EmptyLakeError when any of `tables` does not exist yet."""
    with reading(lake()) as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            missing = missing_tables(conn, tables)
            if missing:
                raise EmptyLakeError(
                    f"The lake has no {', '.join(missing)} table yet: nothing has been "
                    f"written to it. {RUN_HINT}"
                )
            yield conn
        finally:
            conn.execute("ROLLBACK")


def guarded(page: Callable[[DayRange], None]) -> Callable[[], None]:
    """The page as a Streamlit page function: the range picker first, then the page; the
    lake unreachable, empty or misconfigured shows a message saying what to do."""

    def run() -> None:
        day_range = range_picker(page.__module__.rsplit(".", 1)[-1])
        started = time.perf_counter()
        try:
            page(day_range)
            st.caption(f"Page rendered in {time.perf_counter() - started:.2f} s.")
        except LakeVersionError as error:  # reachable, but of another schema version
            st.error(md(error), icon=":material/upgrade:")
        except LakeUnavailableError as error:
            if not_created_yet(error):
                st.info(NOT_CREATED_MESSAGE)
            else:
                st.error(
                    f"The warehouse is not reachable. {md(error)}", icon=":material/cloud_off:"
                )
                st.info(RUN_HINT)
        except EmptyLakeError as error:
            st.info(str(error))  # our own text: table names and commands
        except ConfigError as error:
            st.error(f"The configuration is invalid: {md(error)}")
        except duckdb.Error as error:
            st.error(
                f"Reading the lake failed ({md(type(error).__name__)}): "
                f"{md(str(error).splitlines()[0] if str(error) else '')}"
            )
        except Exception as error:  # a bug: say so in one line; the server log has the rest
            log.exception("dashboard page %s failed", page.__module__)
            st.error(
                f"This page failed ({md(type(error).__name__)}); the dashboard's log has the "
                "details."
            )

    run.__name__ = page.__name__
    return run


# --- the range, kept in the URL --------------------------------------------------------------


def _set_range_params(day_range: DayRange) -> None:
    wanted = day_range.query_params()
    for name in ("from", "to"):
        if name not in wanted and name in st.query_params:
            del st.query_params[name]
    for name, value in wanted.items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    st.session_state["range_params"] = wanted


def range_picker(page_name: str) -> DayRange:
    """The sidebar's range: from the URL when it names one (a shared link, the back button),
    else the session's last range; the URL is kept in step so the view can be shared.

    Each page has its own widget keys: Streamlit drops a widget's state when another page
    runs, so the range crosses pages in `range_params`, not in the widgets."""
    params = st.query_params.to_dict()
    if "range" not in params and "range_params" in st.session_state:
        params.update(st.session_state["range_params"])  # a page switch dropped the params
    wanted = ranges.from_query_params(params)
    state = st.session_state
    preset_key, days_key = f"range_preset_{page_name}", f"range_days_{page_name}"
    if state.get("range_seen") != wanted.query_params() or preset_key not in state:
        state[preset_key] = wanted.preset
        if wanted.preset == "custom":
            state[days_key] = (wanted.first, wanted.last)
    if days_key not in state:
        today = ranges.today_utc()
        state[days_key] = (today - timedelta(days=6), today)
    preset = st.sidebar.selectbox(
        "Range", list(PRESETS), key=preset_key, format_func=PRESETS.__getitem__
    )
    if preset == "custom":
        picked = st.sidebar.date_input("Days (UTC)", key=days_key)
        days = tuple(picked) if isinstance(picked, tuple | list) else (picked,)
        first, last = (days[0], days[-1]) if days else (wanted.first, wanted.last)
        day_range = ranges.custom_range(first, last)
    else:
        day_range = ranges.preset_range(preset)
    st.sidebar.caption(f"Showing {md(day_range.label)} (UTC days, both ends included).")
    _set_range_params(day_range)
    state["range_seen"] = day_range.query_params()
    return day_range
