"""Compact journey timelines: one entry per day, packed to fit a PDF row or a Slack reply.

A timeline entry is "MM-DD label label×n" (built in SQL from `ACTION_LABELS`); these
functions only choose which entries to show when a journey is too long: always the first
day (how the user started), then as many of the most recent days as fit.
"""

from __future__ import annotations

from collections.abc import Sequence

# Short labels for the journey actions of SPEC §5; an action not listed shows its own name.
ACTION_LABELS: dict[str, str] = {
    "signed_up": "signup",
    "logged_in": "login",
    "login_failed": "login✗",
    "project_created": "project",
    "topic_created": "topic",
    "code_run": "run",
    "deployment_started": "deploy▸",
    "deployment_completed": "deploy✓",
    "deployment_failed": "deploy✗",
    "api_error": "api-error",
}

# Browser noise: counted nowhere in the timeline (the backend actions tell the story).
BROWSER_ACTIONS: tuple[str, ...] = ("page_viewed", "clicked")

SEPARATOR = " · "


def _skipped(count: int) -> str:
    return f"… {count} more day{'s' if count != 1 else ''} …"


def pack_lines(entries: Sequence[str], width: int) -> list[str]:
    """Greedily pack entries into lines of at most `width` characters, joined by " · ".

    An entry longer than a whole line is cut with "…" (it is one day of one user: rare).
    """
    lines: list[str] = []
    current = ""
    for entry in entries:
        if len(entry) > width:
            entry = entry[: width - 1] + "…"
        if not current:
            current = entry
        elif len(current) + len(SEPARATOR) + len(entry) <= width:
            current += SEPARATOR + entry
        else:
            lines.append(current)
            current = entry
    if current:
        lines.append(current)
    return lines


def compact_timeline(entries: Sequence[str], width: int, max_lines: int) -> list[str]:
    """At most `max_lines` lines of at most `width` characters telling the journey.

    Everything when it fits; otherwise the first day, "… N more days …" and as many of the
    most recent days as fit; when not even one recent day fits next to the first day, the
    first day gives way (the sign-up date has its own column) to the most recent days.
    """
    if not entries:
        return []
    lines = pack_lines(entries, width)
    if len(lines) <= max_lines:
        return lines

    def latest(head: list[str], tail: int) -> list[str]:
        hidden = len(entries) - len(head) - tail
        return pack_lines([*head, _skipped(hidden), *entries[len(entries) - tail :]], width)

    for head in ([entries[0]], []):
        best: list[str] | None = None
        for tail in range(1, len(entries) - len(head)):
            candidate = latest(head, tail)
            if len(candidate) > max_lines:
                break
            best = candidate
        if best is not None:
            return best
    return latest([], 1)[:max_lines]


def timeline_excerpt(entries: Sequence[str], max_entries: int) -> list[str]:
    """One entry per line for a Slack reply: the first two days and the latest ones."""
    if len(entries) <= max_entries:
        return list(entries)
    head = 2 if max_entries >= 5 else 1
    tail = max_entries - head - 1
    hidden = len(entries) - head - tail
    return [*entries[:head], _skipped(hidden), *entries[len(entries) - tail :]]
