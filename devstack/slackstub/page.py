"""The stub's web page: what arrived, as Slack would show it (mrkdwn, Block Kit, threads).

Every piece of text is HTML-escaped after Slack's entities are decoded, so nothing a message
says can become markup on this page.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .urls import FILES_PREFIX

PAGE_TEMPLATE = Path(__file__).parent.parent / "slack_stub_page.html"
MAX_THREADS_PER_CHANNEL = 200


# Slack's mrkdwn, rendered as the Slack client shows it. User text arrives with `&`, `<` and
# `>` as entities; a raw `<…>` is a link or a mention. Every piece of text is HTML-escaped
# after the entities are decoded, so nothing a message says can become markup on this page.
CODE_BLOCK = re.compile(r"```(.*?)```", re.DOTALL)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
ANGLE = re.compile(r"<([^<>\n]*)>")
STYLES = (
    ("strong", re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")),
    ("em", re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])")),
    ("del", re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])")),
)
EMOJI = {
    "tada": "🎉",
    "x": "❌",
    "turtle": "🐢",
    "warning": "⚠️",
    "lock": "🔒",
    "bell": "🔔",
    "bar_chart": "📊",
    "white_check_mark": "✅",
    "rotating_light": "🚨",
    "page_facing_up": "📄",
}
EMOJI_NAME = re.compile(r":([a-z0-9_+-]+):")
LINK_SCHEMES = ("http://", "https://", "mailto:")
# Slack-like looks for what the renderer emits (the page template styles the rest).
MRKDWN_STYLE = """<style>
  code, pre.code { font-family: ui-monospace, Menlo, monospace; font-size: 12px;
    background: #f6f6f6; border: 1px solid #e0e0e0; border-radius: 3px; }
  code { padding: 0 3px; color: #c01343; }
  pre.code { padding: 6px 8px; margin: 4px 0; white-space: pre-wrap; }
  .fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 24px; margin: 4px 0; }
  .mention { background: #e8f5fa; color: #1264a3; border-radius: 3px; padding: 0 2px; }
  .header { font-weight: bold; font-size: 16px; }
</style>"""


def _unescape(text: str) -> str:
    """Slack's three entities back to characters (only those: `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _plain_html(text: str) -> str:
    """Text outside code and links: entities decoded, HTML-escaped, then bold, italic,
    strike and emoji applied (markers and emoji names survive HTML escaping unchanged)."""
    out = html.escape(_unescape(text), quote=False)
    for tag, pattern in STYLES:
        out = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", out)
    return EMOJI_NAME.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), out)


def _angle_html(inner: str) -> str:
    """`<https://x|label>`, `<@U123>`, `<!here>`, `<#C123|name>` as Slack shows them."""
    target, _, label = inner.partition("|")
    if target[:1] in ("@", "#"):
        shown = label or target[1:]
        return f'<span class="mention">{target[0]}{html.escape(_unescape(shown))}</span>'
    if target.startswith("!"):
        shown = label or target[1:].split("^")[0]
        return f'<span class="mention">@{html.escape(_unescape(shown))}</span>'
    url = _unescape(target)
    if url.lower().startswith(LINK_SCHEMES):
        text = html.escape(_unescape(label or target), quote=False)
        return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{text}</a>'
    return html.escape(_unescape(f"<{inner}>"), quote=False)


def _inline_html(text: str) -> str:
    parts = []
    for index, piece in enumerate(INLINE_CODE.split(text)):
        if index % 2:
            parts.append(f"<code>{html.escape(_unescape(piece))}</code>")
            continue
        for link_index, chunk in enumerate(ANGLE.split(piece)):
            parts.append(_angle_html(chunk) if link_index % 2 else _plain_html(chunk))
    return "".join(parts)


def mrkdwn_to_html(text: str) -> str:
    """HTML for one mrkdwn text: code blocks, inline code, links, bold, italic, strike."""
    parts = []
    for index, piece in enumerate(CODE_BLOCK.split(text)):
        if index % 2:
            body = html.escape(_unescape(piece.strip("\n")))
            parts.append(f'<pre class="code">{body}</pre>')
        else:
            parts.append(_inline_html(piece))
    return "".join(parts)


def _text_html(item: Any, css: str = "text") -> str:
    """A Block Kit text object (`mrkdwn` or `plain_text`) as a div."""
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return ""
    if item.get("type") == "plain_text":
        body = EMOJI_NAME.sub(
            lambda m: EMOJI.get(m.group(1), m.group(0)), html.escape(item["text"], quote=False)
        )
    else:
        body = mrkdwn_to_html(item["text"])
    return f'<div class="{css}">{body}</div>'


def _blocks_html(blocks: list[Any]) -> str:
    """The visible part of Block Kit blocks: header, section text and fields, context, divider."""
    out = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "header":
            out.append(_text_html(block.get("text"), "text header"))
        elif kind == "section":
            out.append(_text_html(block.get("text")))
            fields = "".join(_text_html(item) for item in block.get("fields") or [])
            if fields:
                out.append(f'<div class="fields">{fields}</div>')
        elif kind == "context":
            out.extend(_text_html(item, "meta") for item in block.get("elements") or [])
        elif kind == "divider":
            out.append("<hr>")
    return "".join(out)


def _render_message(message: dict[str, Any], files: dict[str, dict[str, Any]], base: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(message["received_at"]))
    body = _blocks_html(message.get("blocks") or [])
    if not body:
        body = f'<div class="text">{mrkdwn_to_html(message.get("text") or "")}</div>'
    links = []
    for file_id in message.get("files") or []:
        record = files.get(file_id, {})
        name = record.get("name", file_id)
        href = f"{base}{FILES_PREFIX}{quote(file_id)}/{quote(name)}"
        size = record.get("size") or 0
        links.append(
            f'<a class="file" href="{html.escape(href)}">📄 {html.escape(name)}</a>'
            f' <span class="meta">{size:,} bytes</span>'
        )
    return (
        f'<div class="msg"><span class="meta">{html.escape(when)} · ts {html.escape(message["ts"])}'
        f"</span>{body}{''.join(links)}</div>"
    )


def render_page(
    messages: list[dict[str, Any]],
    files: dict[str, dict[str, Any]],
    channels: dict[str, str],
    base: str,
) -> str:
    by_channel: dict[str, list[dict[str, Any]]] = {}
    replies: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for message in messages:
        key = message.get("channel") or "(no channel: private files)"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            replies.setdefault((key, thread_ts), []).append(message)
        else:
            by_channel.setdefault(key, []).append(message)
    sections = []
    for channel_id, tops in sorted(by_channel.items(), key=lambda kv: channels.get(kv[0], kv[0])):
        name = channels.get(channel_id, channel_id)
        threads = []
        for top in reversed(tops[-MAX_THREADS_PER_CHANNEL:]):
            thread = replies.get((channel_id, top["ts"]), [])
            inner = "".join(_render_message(reply, files, base) for reply in thread)
            count = f'<div class="meta">{len(thread)} replies</div>' if thread else ""
            threads.append(
                f'<div class="thread">{_render_message(top, files, base)}{count}'
                f'<div class="replies">{inner}</div></div>'
            )
        sections.append(
            f'<section><h2>{html.escape(name)} <span class="meta">{html.escape(channel_id)} · '
            f"{len(tops)} messages</span></h2>{''.join(threads)}</section>"
        )
    body = MRKDWN_STYLE + ("".join(sections) or '<p class="empty">No messages yet.</p>')
    template = PAGE_TEMPLATE.read_text(encoding="utf-8") if PAGE_TEMPLATE.exists() else "{{body}}"
    return template.replace("{{count}}", str(len(messages))).replace("{{body}}", body)


# -- server ----------------------------------------------------------------------------
