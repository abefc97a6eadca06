"""Altair charts of the pages: series in a fixed order and colour (the funnel's stage order),
so the same stage looks the same on every chart."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

STAGE_COLOURS = {
    "signed_up": "#9ecae1",
    "activated": "#4292c6",
    "active": "#2ca25f",
    "inactive": "#bdbdbd",
}
FLOW_COLOURS = {"new_signups": "#6baed6", "newly_activated": "#31a354", "newly_inactive": "#969696"}


def _long(frame: pd.DataFrame, index: str, columns: Sequence[str], name: str) -> pd.DataFrame:
    long = frame.melt(id_vars=[index], value_vars=list(columns), var_name="series", value_name=name)
    long["rank"] = long["series"].map({column: i for i, column in enumerate(columns)})
    return long


def stacked(
    frame: pd.DataFrame, index: str, colours: dict[str, str], value: str, height: int = 280
) -> alt.Chart:
    """Stacked bars per `index` value, one colour per column of `colours`, stacked in order."""
    order = list(colours)
    long = _long(frame, index, order, value)
    return (
        alt.Chart(long, height=height)
        .mark_bar()
        .encode(
            x=alt.X(f"{index}:T", title=None),
            y=alt.Y(f"{value}:Q", stack="zero", title=value),
            color=alt.Color(
                "series:N",
                sort=order,
                scale=alt.Scale(domain=order, range=list(colours.values())),
                title=None,
            ),
            order=alt.Order("rank:Q", sort="descending"),
            tooltip=[alt.Tooltip(f"{index}:T"), "series:N", f"{value}:Q"],
        )
    )


def lines(
    frame: pd.DataFrame, index: str, colours: dict[str, str], value: str, height: int = 240
) -> alt.Chart:
    """One line per column of `colours` over `index`, with points."""
    order = list(colours)
    long = _long(frame, index, order, value)
    return (
        alt.Chart(long, height=height)
        .mark_line(point=True)
        .encode(
            x=alt.X(f"{index}:T", title=None),
            y=alt.Y(f"{value}:Q", title=value),
            color=alt.Color(
                "series:N",
                sort=order,
                scale=alt.Scale(domain=order, range=list(colours.values())),
                title=None,
            ),
            tooltip=[alt.Tooltip(f"{index}:T"), "series:N", f"{value}:Q"],
        )
    )
