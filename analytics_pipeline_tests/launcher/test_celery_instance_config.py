"""deploy/dagster.celery.yaml: the single-machine instance with one block changed, and a launcher
a worker can be built from, with the broker and backend from the environment."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from analytics_pipeline.launcher.celery_launcher import LiveCeleryRunLauncher, instance_run_launcher

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_pool_variant_changes_only_the_run_launcher():
    single = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    pool = yaml.safe_load((REPO_ROOT / "deploy/dagster.celery.yaml").read_text(encoding="utf-8"))
    assert {k: v for k, v in pool.items() if k != "run_launcher"} == {
        k: v for k, v in single.items() if k != "run_launcher"
    }
    assert pool["run_launcher"]["class"] == "LiveCeleryRunLauncher"


def test_a_worker_builds_the_launcher_the_daemon_uses(tmp_path, monkeypatch):
    shutil.copyfile(REPO_ROOT / "deploy/dagster.celery.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("DAGSTER_CELERY_BACKEND_URL", "redis://127.0.0.1:1/1")
    launcher = instance_run_launcher(str(tmp_path))
    assert isinstance(launcher, LiveCeleryRunLauncher)
    assert launcher.celery.conf.broker_url == "redis://127.0.0.1:1/0"
    assert launcher.celery.conf.result_backend == "redis://127.0.0.1:1/1"
    assert launcher.celery.conf.task_acks_late is False  # no second run of a lost worker's run
    assert launcher.worker_silence_seconds == 10


def test_a_worker_on_the_single_machine_instance_says_what_to_do(tmp_path):
    shutil.copyfile(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with pytest.raises(RuntimeError, match=r"not a Celery one.*deploy/dagster.celery.yaml"):
        instance_run_launcher(str(tmp_path))
