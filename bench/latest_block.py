"""Benchmarks rewrite only their "latest run" block of a results file; the analysis stays."""

from __future__ import annotations

from pathlib import Path


def write_latest_block(path: Path, writer: str, summary: str, *, title: str) -> None:
    """Replace the block `writer` owns in `path` (creating `path` with `title` if missing)."""
    begin, end = f"<!-- latest run: written by {writer} -->", "<!-- end of latest run -->"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# {title}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{begin}\n{summary}\n{end}{tail}"
    else:
        text += f"\n## Latest run\n\n{begin}\n{summary}\n{end}\n"
    path.write_text(text, encoding="utf-8")
