"""The stage PDF's user listing as fixed-width text lines.

Why text lines and not an HTML table: WeasyPrint lays out a 10,000-row table in tens of
seconds, while the same rows as monospaced lines in a <pre> take a second or two. Columns
are aligned by padding; the column header repeats on every page from CSS (see `stage.html.j2`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from analytics_pipeline.report.model import StageUser
from analytics_pipeline.report.timeline import compact_timeline

LINE_WIDTH = 132  # characters of the monospaced listing font across an A4 page
ID_WIDTH = 34
SIGNUP_WIDTH = 11  # 2026-01-02 plus "*" when the sign-up was inferred
LAST_WIDTH = 16  # 2026-03-04 10:11
GAP = "  "
# Journey lines per user: two in ordinary stages, one in very large ones, where the
# listing's length (and the time to draw it) matters more than detail.
TIMELINE_LINES = 2
LARGE_STAGE_USERS = 1_000
ENTERED_MARK = "●"
INFERRED_MARK = "*"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

PREFIX_WIDTH = 2 + ID_WIDTH + 1 + SIGNUP_WIDTH + len(GAP) + LAST_WIDTH + len(GAP)
TIMELINE_WIDTH = LINE_WIDTH - PREFIX_WIDTH


def printable(text: str) -> str:
    """Control characters (newlines, tabs, …) would break the columns: show them as '?'."""
    return _CONTROL.sub("?", text)


def _minute(ts: datetime | None) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if ts is not None else "—"


def header_line() -> str:
    return (
        "  "
        + "user".ljust(ID_WIDTH)
        + " "
        + "signed up".ljust(SIGNUP_WIDTH)
        + GAP
        + "last meaningful".ljust(LAST_WIDTH)
        + GAP
        + "journey (UTC days: actions)"
    )


def timeline_lines_for(user_count: int) -> int:
    return TIMELINE_LINES if user_count <= LARGE_STAGE_USERS else 1


def user_lines(user: StageUser, timeline_lines: int = TIMELINE_LINES) -> list[str]:
    """One to a few lines for one user; ids longer than the column get lines of their own."""
    mark = ENTERED_MARK + " " if user.entered_today else "  "
    user_id = printable(user.user_id)
    lines: list[str] = []
    if len(user_id) > ID_WIDTH:
        chunk = LINE_WIDTH - 2
        pieces = [user_id[i : i + chunk] for i in range(0, len(user_id), chunk)]
        lines.extend((mark if i == 0 else "  ") + piece for i, piece in enumerate(pieces))
        mark, user_id = "  ", ""
    signup = "—"
    if user.signed_up_at is not None:
        signup = user.signed_up_at.strftime("%Y-%m-%d")
        signup += INFERRED_MARK if user.signup_inferred else ""
    journey = compact_timeline(user.timeline, TIMELINE_WIDTH, timeline_lines) or ["—"]
    prefix = (
        mark
        + user_id.ljust(ID_WIDTH)
        + " "
        + signup.ljust(SIGNUP_WIDTH)
        + GAP
        + _minute(user.last_meaningful_at).ljust(LAST_WIDTH)
        + GAP
    )
    lines.append(prefix + journey[0])
    lines.extend(" " * PREFIX_WIDTH + rest for rest in journey[1:])
    return lines


def listing_blocks(
    users: Sequence[StageUser], timeline_lines: int = TIMELINE_LINES, lines_per_block: int = 40
) -> list[str]:
    """Every user's lines, in the given order, joined into blocks of about `lines_per_block`.

    Each block becomes its own <pre>: WeasyPrint re-measures the rest of a text node for every
    line it breaks, so one huge <pre> costs quadratic time; small blocks keep it linear. A
    user's lines stay in one block.
    """
    blocks: list[str] = []
    current: list[str] = []
    for user in users:
        lines = user_lines(user, timeline_lines)
        if current and len(current) + len(lines) > lines_per_block:
            blocks.append("\n".join(current))
            current = []
        current.extend(lines)
    if current:
        blocks.append("\n".join(current))
    return blocks
