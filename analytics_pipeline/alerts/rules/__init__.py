"""The alert rules (SPEC §7): one file per rule, each defining `RULE` (see alerts/rule_record.py).

This registry finds them by listing this package, so adding a rule is adding its file (and its
test; and its setting in settings.py when it has one). Everything else reads the records from
here: the outbox (which actions to read, how far back), the evaluation, the messages
(headlines), the Dagster layer (metadata per rule) and the dashboard (rule names).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from datetime import datetime, timedelta

from analytics_pipeline.alerts.model import ActionEvent, Alert
from analytics_pipeline.alerts.rule_record import ClockRule, EventRule, Rule
from analytics_pipeline.alerts.thresholds import Thresholds


def _discover() -> tuple[Rule, ...]:
    found: list[Rule] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        rule = getattr(importlib.import_module(f"{__name__}.{module.name}"), "RULE", None)
        if not isinstance(rule, Rule) or rule.name != module.name:
            raise ImportError(
                f"alerts/rules/{module.name}.py must define RULE, a rule record named "
                f"{module.name!r}"
            )
        found.append(rule)
    return tuple(found)


RULES: tuple[Rule, ...] = _discover()
RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)
EVENT_RULES: tuple[EventRule, ...] = tuple(r for r in RULES if isinstance(r, EventRule))
CLOCK_RULES: tuple[ClockRule, ...] = tuple(r for r in RULES if isinstance(r, ClockRule))
WINDOW_RULES: tuple[EventRule, ...] = tuple(r for r in EVENT_RULES if r.window > timedelta(0))
_BY_NAME = {rule.name: rule for rule in RULES}

# What the outbox reads for the event rules: their actions among the new events, and for the
# windowed ones, the earlier events of users with a new trigger, up to the longest window.
EVENT_RULE_ACTIONS: frozenset[str] = frozenset().union(*(r.actions for r in EVENT_RULES))
WINDOW_ACTIONS: frozenset[str] = frozenset().union(*(r.actions for r in WINDOW_RULES))
WINDOW_TRIGGER_ACTIONS: frozenset[str] = frozenset().union(*(r.triggers for r in WINDOW_RULES))
LONGEST_WINDOW: timedelta = max((r.window for r in WINDOW_RULES), default=timedelta(0))


def rule_named(name: str) -> Rule | None:
    return _BY_NAME.get(name)


def rule_settings() -> tuple[str, ...]:
    """The settings.Settings fields (minutes) the rules read."""
    return tuple(sorted({r.setting for r in RULES if r.setting}))


def evaluate_event_rules(
    events: Iterable[ActionEvent], now: datetime, thresholds: Thresholds
) -> list[Alert]:
    """All rules that fire on events themselves (every rule but the clock rules)."""
    events = list(events)
    alerts: list[Alert] = []
    for rule in EVENT_RULES:
        alerts.extend(rule.evaluate(events, now, thresholds))
    return alerts
