"""deploy/helm/values.yaml against the documented keys of Dagster's Helm chart.

The chart is in no registry this machine reaches, so it cannot be rendered here. Instead every
key our values set must be a key the chart's values schema documents (vendored in
fixtures/dagster_chart_values.schema.json, with its origin), enums must hold, and the
Kubernetes objects inside (resources, security contexts, env sources, the run pods' container,
pod and job specs) must use fields Kubernetes knows, per kubernetes-validate's schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VALUES = REPO_ROOT / "deploy" / "helm" / "values.yaml"
CHART_SCHEMA = Path(__file__).parent / "fixtures" / "dagster_chart_values.schema.json"
K8S_DEFINITIONS = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / "v1.37.0-local-strict"
    / "_definitions.json"
)
# Objects the chart types loosely ("object") that hold Kubernetes API objects.
K8S_OBJECTS = {
    ("runK8sConfig", "containerConfig"): "io.k8s.api.core.v1.Container",
    ("runK8sConfig", "podSpecConfig"): "io.k8s.api.core.v1.PodSpec",
    ("runK8sConfig", "jobSpecConfig"): "io.k8s.api.batch.v1.JobSpec",
}


class Schemas:
    def __init__(self) -> None:
        self.chart = json.loads(CHART_SCHEMA.read_text(encoding="utf-8"))
        self.k8s = json.loads(K8S_DEFINITIONS.read_text(encoding="utf-8"))["$defs"]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Follow $ref: the chart's own definitions, or a Kubernetes type."""
        ref = schema.get("$ref")
        if ref is None:
            return schema
        if ref.startswith("#/definitions/"):
            name = ref.removeprefix("#/definitions/")
            assert name in self.chart["definitions"], (
                f"{name} is not vendored: add its definition from the chart's schema"
            )
            return self.resolve(self.chart["definitions"][name])
        # https://kubernetesjsonschema.dev/v1.18.0/_definitions.json#/definitions/<type>[/...]
        # or kubernetes-validate's /api/_definitions.json#/$defs/<type>
        path = ref.split("#/", 1)[1].split("/")[1:]
        node: Any = self.k8s
        for part in path:
            node = node[part]
        return self.resolve(node)


JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "null": type(None),
}


def type_ok(value: Any, schema: dict[str, Any]) -> bool:
    wanted = schema.get("type")
    if wanted is None:
        return True
    types = wanted if isinstance(wanted, list) else [wanted]
    if isinstance(value, bool) and "boolean" not in types:
        return False
    return isinstance(value, tuple(JSON_TYPES[t] for t in types if t in JSON_TYPES))


def problems(schemas: Schemas, value: Any, schema: dict[str, Any], at: str) -> Iterator[str]:
    """Keys not in the schema, values of the wrong type or outside an enum, under `at`."""
    schema = schemas.resolve(schema)
    if not type_ok(value, schema):
        yield f"{at}: {value!r} is not of type {schema['type']}"
        return
    if "anyOf" in schema:
        options = [list(problems(schemas, value, option, at)) for option in schema["anyOf"]]
        if all(options):
            yield from min(options, key=len)
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{at}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                yield from problems(schemas, item, properties[key], f"{at}.{key}")
            elif isinstance(extra, dict):
                yield from problems(schemas, item, extra, f"{at}.{key}")
            elif properties or extra is False:
                yield f"{at}.{key}: not a documented key"
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from problems(schemas, item, schema["items"], f"{at}[{index}]")


def check(values: dict[str, Any]) -> list[str]:
    schemas = Schemas()
    found = list(problems(schemas, values, schemas.chart, "values"))
    launcher = values.get("runLauncher", {}).get("config", {}).get("k8sRunLauncher") or {}
    for (section, key), k8s_type in K8S_OBJECTS.items():
        obj = (launcher.get(section) or {}).get(key)
        if obj is not None:
            found += problems(schemas, obj, schemas.k8s[k8s_type], f"{section}.{key}")
    return found


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def test_every_key_of_our_values_is_documented_by_the_chart(values):
    assert check(values) == []


def test_runs_are_kubernetes_jobs_with_our_settings_and_secrets(values):
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    (code,) = values["dagster-user-deployments"]["deployments"]
    assert code["dagsterApiGrpcArgs"] == ["-m", "analytics_pipeline.definitions"]
    assert code["includeConfigInLaunchedRuns"]["enabled"] is True
    assert values["postgresql"]["enabled"] is False  # a managed PostgreSQL
    assert values["generatePostgresqlPasswordSecret"] is False  # our Secret, not the values
    assert "postgresqlPassword" not in values["postgresql"]


def test_the_daemon_keeps_the_single_machine_bounds_and_recovery(values):
    """Pools, max concurrent runs, monitoring and retries as dagster.yaml has them."""
    instance = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    pools = values["additionalInstanceConfig"]["concurrency"]["pools"]
    assert pools == instance["concurrency"]["pools"]
    assert daemon["runMonitoring"]["enabled"] and daemon["runRetries"]["enabled"]
    assert daemon["runRetries"]["maxRetries"] == instance["run_retries"]["max_retries"]


@pytest.mark.parametrize(
    "path, bad",
    [
        (("postgresql",), {"postgresqlHostname": "x"}),
        (("runLauncher", "config", "k8sRunLauncher"), {"envSecret": []}),
        (
            ("runLauncher", "config", "k8sRunLauncher", "runK8sConfig", "containerConfig"),
            {"resource": {}},
        ),
        (("dagster-user-deployments", "deployments", 0, "securityContext"), {"runAsUsr": 1}),
        (("runLauncher",), {"type": "K8sLauncher"}),
    ],
)
def test_a_misspelt_key_or_value_is_caught(values, path, bad):
    """The check is real: a key the chart or Kubernetes does not know fails it."""
    broken = json.loads(json.dumps(values))
    node = broken
    for part in path:
        node = node[part]
    node.update(bad)
    assert check(broken)
