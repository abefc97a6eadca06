"""`analytics-pipeline simulate` without a broker: the JSON-lines output and argument errors."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import pytest

from analytics_pipeline.cli import main
from analytics_pipeline.simulate import sinks
from analytics_pipeline.simulate.malformed import encode_stream
from analytics_pipeline.simulate.traffic import generate_traffic

ARGS = ["simulate", "--users", "40", "--days", "5", "--start", "2026-10-01", "--seed", "8"]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_output_file_holds_every_message_in_the_documented_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "traffic.jsonl"
    assert main([*ARGS, "--malformed-fraction", "0.05", "--output", str(out)]) == 0

    expected = list(encode_stream(generate_traffic(40, 5, 8, date(2026, 10, 1)), 0.05, 8))
    lines = read_lines(out)
    assert len(lines) == len(expected) > 1000
    topics = {"clickstream": "portal-clickstream", "backend": "portal-backend"}
    for line, message in zip(lines, expected, strict=True):
        assert line["topic"] == topics[message.kind]
        assert line["key"] == message.key.decode()
        if message.malformed is None:
            assert set(line) == {"topic", "key", "value"}
            assert line["value"] == json.loads(message.value)
        else:
            assert set(line) == {"topic", "key", "malformed", "value_b64"}
            assert line["malformed"] == message.malformed
            assert base64.b64decode(line["value_b64"]) == message.value
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    malformed = sum(m.malformed is not None for m in expected)
    assert f"done: {len(expected):,} messages ({malformed:,} malformed)" in summary


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first, second, other = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl"
    assert main([*ARGS, "--output", str(first)]) == 0
    assert main([*ARGS, "--output", str(second)]) == 0
    assert main([*ARGS[:-1], "9", "--output", str(other)]) == 0
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_topic_names_come_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANALYTICS_CLICKSTREAM_TOPIC", "web-events")
    monkeypatch.setenv("ANALYTICS_BACKEND_TOPIC", "api-events")
    out = tmp_path / "t.jsonl"
    assert main([*ARGS, "--output", str(out)]) == 0
    assert {line["topic"] for line in read_lines(out)} == {"web-events", "api-events"}
    assert main([*ARGS, "--backend-topic", "b2", "--output", str(out)]) == 0
    assert {line["topic"] for line in read_lines(out)} == {"web-events", "b2"}


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        (["simulate", "--users", "0"], "--users"),
        (["simulate", "--users", "many"], "--users"),
        (["simulate", "--days", "-3"], "--days"),
        (["simulate", "--start", "2026-02-30"], "--start"),
        (["simulate", "--malformed-fraction", "1.5"], "--malformed-fraction"),
        (["simulate", "--start", "2999-01-01"], "--start 2999-01-01 is in the future"),
        (["simulate", "--rate", "10"], "--rate applies to --live"),
        (["simulate", "--live", "--rate", "0"], "--rate"),
        (["simulate", "--live", "--duration", "soon"], "--duration"),
        (["simulate", "--bootstrap-servers", "nohostport"], "--bootstrap-servers"),
        (["simulate", "--kafka-client", "java"], "--kafka-client"),
        (["simulate", "--frobnicate"], "--frobnicate"),
        (["launch"], "launch"),
    ],
)
def test_bad_arguments_give_one_clear_line_and_exit_code_2(
    argv: list[str], mentions: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert mentions in err[0] and "error:" in err[0]


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--help"]) == 0
    assert "--malformed-fraction" in capsys.readouterr().out


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_unreachable_kafka_gives_one_line_naming_the_servers_and_exit_code_1(
    client: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sinks, "CONNECT_TIMEOUT_MS", 2000)  # nothing listens on port 1
    argv = [*ARGS, "--bootstrap-servers", "127.0.0.1:1", "--kafka-client", client]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "127.0.0.1:1" in err[0] and "did not answer" in err[0]
    assert "Traceback" not in err[0]


def test_unwritable_output_file_gives_one_line_and_exit_code_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ARGS, "--output", str(tmp_path / "missing-dir" / "t.jsonl")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing-dir" in err[0]
