"""deploy/Dockerfile, checked for what matters without building it (there is no Docker engine
here): a pinned base image, an unprivileged user, the DuckDB extension wheels installed at
build time, and nothing that fetches from the network when a container starts."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def test_every_base_image_is_pinned_to_an_exact_version_or_digest():
    froms = [args.split()[0] for word, args in instructions() if word == "FROM"]
    assert froms
    for image in froms:
        exact_tag = re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", image)
        digest = re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", image)
        assert exact_tag or digest, f"{image} is not pinned (exact version or digest)"


def test_the_final_stage_runs_as_an_unprivileged_user():
    final = instructions()
    final = final[max(i for i, (word, _) in enumerate(final) if word == "FROM") :]
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage has no USER: it would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_nothing_is_downloaded_by_hand_or_at_start():
    for word, args in instructions():
        assert not re.search(r"\b(curl|wget)\b", args), f"{word} {args}"
    start = [args for word, args in instructions() if word in ("CMD", "ENTRYPOINT")]
    assert start and not any(re.search(r"\b(pip|install)\b", args) for args in start)


def test_the_duckdb_extensions_are_installed_and_loaded_at_build_time():
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    assert "duckdb-extension-httpfs==" in runs  # ducklake and postgres_scanner: pyproject
    assert "'autoinstall_known_extensions': False" in runs
    for extension in ("ducklake", "postgres_scanner", "httpfs"):
        assert extension in runs
