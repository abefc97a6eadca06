"""One Slack post as chat.postMessage takes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SlackMessage:
    """`text` is the fallback (notifications, old clients); `blocks` is what the UI shows."""

    text: str
    blocks: list[dict[str, Any]]
