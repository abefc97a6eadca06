"""The rule records are the one source: every rule has its own headline and the README's
table of rules is the one the records generate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from analytics_pipeline.alerts import docs
from analytics_pipeline.alerts.messages import render
from analytics_pipeline.alerts.model import OutboxAlert
from analytics_pipeline.alerts.rules import RULE_NAMES, RULES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_registry_holds_every_rule_of_spec_section_7() -> None:
    assert set(RULE_NAMES) >= {
        "new_signup",
        "deployment_failed",
        "deployment_slow",
        "api_errors",
        "login_trouble",
        "onboarding_stalled",
    }


def test_every_rule_has_its_own_headline() -> None:
    fallback = render(OutboxAlert("x:u", "no_such_rule", "u", datetime.now(UTC), {}))
    assert fallback.text.startswith(":bell: Alert:")
    for rule in RULES:
        message = render(OutboxAlert(f"{rule.name}:u", rule.name, "u", datetime.now(UTC), {}))
        assert not message.text.startswith(":bell: Alert:"), rule.name
        assert "`u`" in message.text, rule.name


def test_the_readme_lists_the_rules_the_records_declare() -> None:
    text = README.read_text()
    assert docs.with_table(text) == text, (
        "README.md's table of alert rules is out of date: run "
        "`.venv/bin/python -m analytics_pipeline.alerts.docs --write README.md`"
    )
    for name in RULE_NAMES:
        assert f"| `{name}` |" in text
