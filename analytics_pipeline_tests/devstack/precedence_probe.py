"""A probe code location for test_config_precedence: it loads the real code location and
records, in every process that loads it, which values the real resources got.

Each load appends one JSON line to $PRECEDENCE_PROBE_OUT; materialising `precedence_probe`
appends one more from inside the run, with the resources the run was given.
"""

import json
import os
import sys

import dagster as dg

import analytics_pipeline.definitions as real_location

PROBED_RESOURCES = ("kafka", "slack")


def record(where: str, kafka: dg.ConfigurableResource, slack: dg.ConfigurableResource) -> None:
    """Append what this process sees: the environment and the resources' values."""
    line = {
        "where": where,
        "pid": os.getpid(),
        "argv": " ".join(sys.argv[:4]),
        "cwd": os.getcwd(),
        "env_backend_topic": os.environ.get("ANALYTICS_BACKEND_TOPIC"),
        "env_alerts_channel": os.environ.get("SLACK_ALERTS_CHANNEL"),
        "backend_topic": kafka.backend_topic,
        "alerts_channel": slack.alerts_channel,
    }
    with open(os.environ["PRECEDENCE_PROBE_OUT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


_resources = {key: real_location.defs.resources[key] for key in PROBED_RESOURCES}
record("load", _resources["kafka"], _resources["slack"])


@dg.asset(required_resource_keys=set(PROBED_RESOURCES))
def precedence_probe(context: dg.AssetExecutionContext) -> None:
    record("run", context.resources.kafka, context.resources.slack)


defs = dg.Definitions(assets=[precedence_probe], resources=_resources)
