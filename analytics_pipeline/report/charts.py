"""Charts as SVG text (matplotlib), embedded in the PDFs as data: URIs.

SVG keeps the PDFs sharp and small; `svg.fonttype = "none"` leaves labels as real text (so
WeasyPrint draws them with the page's font and pypdf can read them) and a fixed
`svg.hashsalt` plus no date metadata make the same data give the same bytes. The
object-oriented `Figure` API is used with the Agg canvas: no pyplot state, no GUI backend.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analytics_pipeline.report.model import STAGE_TITLES, STAGES, FunnelDay

STAGE_COLOURS: dict[str, str] = {
    "signed_up": "#8fa8c8",
    "activated": "#f0a93b",
    "active": "#2f9e6e",
    "inactive": "#b0b0b0",
}

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "analytics-pipeline-report",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": "#333333",
    "xtick.color": "#555555",
    "ytick.color": "#555555",
}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def svg_data_uri(svg: str) -> str:
    """`data:image/svg+xml;base64,…`: the only kind of URL the PDF renderer will load."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def funnel_chart(funnel: FunnelDay) -> str:
    """Cumulative funnel of the day: all sign-ups -> ever activated -> active now."""
    ever_activated = funnel.activated + funnel.active + funnel.inactive
    steps = [
        ("Signed up (all)", funnel.signed_up_users, STAGE_COLOURS["signed_up"]),
        ("Activated (ever)", ever_activated, STAGE_COLOURS["activated"]),
        ("Active now", funnel.active, STAGE_COLOURS["active"]),
    ]
    widest = max(funnel.signed_up_users, 1)
    with rc_context(_RC):
        figure = Figure(figsize=(6.4, 1.35))
        axes = figure.subplots()
        for row, (label, value, colour) in enumerate(steps):
            y = len(steps) - 1 - row
            axes.barh(y, value, left=(widest - value) / 2, color=colour, height=0.72)
            share = f" ({value / widest:.0%})" if row and funnel.signed_up_users else ""
            axes.text(widest / 2, y, f"{label}: {value:,}{share}", ha="center", va="center")
        axes.set_xlim(0, widest)
        axes.set_ylim(-0.6, len(steps) - 0.4)
        axes.axis("off")
        return _svg(figure)


def trend_chart(days: Sequence[FunnelDay]) -> str:
    """Stage counts per day (up to 14 days), one line per stage."""
    with rc_context(_RC):
        figure = Figure(figsize=(6.4, 1.9))
        axes = figure.subplots()
        labels = [day.day.strftime("%m-%d") for day in days]
        positions = list(range(len(days)))
        for stage in STAGES:
            axes.plot(
                positions,
                [day.count(stage) for day in days],
                marker="o",
                markersize=2.5,
                linewidth=1.4,
                color=STAGE_COLOURS[stage],
                label=STAGE_TITLES[stage],
            )
        axes.set_xticks(positions, labels, rotation=0, fontsize=6.5)
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("users")
        axes.grid(axis="y", color="#e5e5e5", linewidth=0.6)
        axes.legend(loc="upper left", ncols=4, frameon=False, fontsize=7, bbox_to_anchor=(0, 1.18))
        return _svg(figure)
