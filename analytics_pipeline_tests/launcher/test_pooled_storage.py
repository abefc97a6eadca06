"""PooledPostgresStorage keeps a schedule-storage check's True answer, never a False one."""

from __future__ import annotations

from analytics_pipeline.launcher import pooled_storage
from analytics_pipeline.launcher.pooled_storage import _keep_true


def test_a_true_answer_is_kept_and_a_false_one_asked_again(monkeypatch) -> None:
    monkeypatch.setattr(pooled_storage, "_known_true", set())
    answers = {"a": [False, True, False], "b": [True]}
    asked: list[str] = []

    def has_built_index(name: str) -> bool:
        asked.append(name)
        return answers[name].pop(0)

    kept = _keep_true("postgresql://db", "has_built_index", has_built_index)
    assert kept("a") is False  # not there yet: asked again next time
    assert kept("a") is True  # a migration built it
    assert kept("a") is True  # kept: not asked a third time
    assert kept("b") is True  # another index is asked on its own
    assert asked == ["a", "a", "b"]


def test_a_connection_argument_is_not_part_of_the_question(monkeypatch) -> None:
    monkeypatch.setattr(pooled_storage, "_known_true", set())
    calls = []

    def has_table(conn: object) -> bool:
        calls.append(conn)
        return True

    kept = _keep_true("postgresql://db", "_has_instigators_table", has_table)
    assert kept(object()) and kept(object())
    assert len(calls) == 1
    other_database = _keep_true("postgresql://other", "_has_instigators_table", has_table)
    assert other_database(object())
    assert len(calls) == 2
