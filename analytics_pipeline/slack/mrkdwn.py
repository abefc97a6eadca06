"""User-supplied strings in Slack mrkdwn: shown literally, never acted on.

`escape` is Slack's own mrkdwn escaping of `&`, `<` and `>` (so `<!channel>` or `<@U123>` is
shown literally and can never ping anyone or forge a link). `code` puts a value in an inline
code span that nothing in it can close: a look-alike for the backtick, and line breaks folded
into spaces (a code span ends at a line break). Slack formats nothing inside a code span, so
`*`, `_` and `~` in a value stay plain characters.
"""

from __future__ import annotations

from typing import Any

# Slack limits a section field's text to 2000 characters; a value, once escaped, is cut to
# this, so a value full of `<` (4 characters each once escaped) still fits.
MAX_FIELD_CHARS = 1500
# Shown instead of a backtick inside a code span: U+02CB MODIFIER LETTER GRAVE ACCENT.
BACKTICK_LOOKALIKE = "\u02cb"
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\n\t\v\f\x85\u2028\u2029", " "))


def escape(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """Escape a user-supplied value for Slack mrkdwn (`&`, `<`, `>` as entities), cut so the
    escaped text is at most `limit` characters and never ends inside an entity."""
    out: list[str] = []
    size = 0
    for char in str(value):
        piece = _ENTITIES.get(char, char)
        if size + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def code(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """A user-supplied value as an inline code span that nothing in it can close or format;
    `_unknown_` for a missing or empty value."""
    if value is None or value == "":
        return "_unknown_"
    text = str(value).translate(_LINE_BREAKS).replace("`", BACKTICK_LOOKALIKE)
    return f"`{escape(text, limit)}`"


def code_list(values: list[Any], limit: int = MAX_FIELD_CHARS) -> str:
    """Values as code spans joined by commas, cut (at a whole value) to about `limit`."""
    shown: list[str] = []
    size = 0
    for value in values:
        piece = code(value, limit=200)
        if size + len(piece) + 2 > limit:
            shown.append("…")
            break
        shown.append(piece)
        size += len(piece) + 2
    return ", ".join(shown)
