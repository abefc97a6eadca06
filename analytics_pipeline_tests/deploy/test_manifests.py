"""Our Kubernetes manifests (deploy/k8s/) are valid objects for every Kubernetes release
kubernetes-validate knows (1.25-1.37), checked offline and strictly (an unknown field fails)."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((REPO_ROOT / "deploy" / "k8s").glob("*.yaml"))
KUBERNETES_VERSIONS = ["1.25.0", "1.31.0", "1.37.0"]


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_the_deployment_ships_settings_secret_templates_and_the_dashboard():
    kinds = {
        (doc["kind"], doc["metadata"]["name"]) for path in MANIFESTS for doc in documents(path)
    }
    assert {
        ("ConfigMap", "analytics-pipeline-settings"),
        ("Secret", "analytics-pipeline-secrets"),
        ("Secret", "analytics-dagster-postgresql"),
        ("Deployment", "analytics-dashboard"),
        ("Service", "analytics-dashboard"),
    } <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_manifest_validates_strictly(path: Path, version: str):
    for doc in documents(path):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {error.message}")


def test_a_misspelt_field_is_caught():
    """The check is real: a field Kubernetes does not know fails it."""
    deployment = next(doc for doc in documents(REPO_ROOT / "deploy/k8s/dashboard.yaml"))
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.37.0", strict=True)


def test_secret_templates_hold_placeholders_only():
    """No real secret is ever committed: every value of the templates is REPLACE_ME."""
    for doc in documents(REPO_ROOT / "deploy/k8s/secrets.example.yaml"):
        assert set(doc["stringData"].values()) == {"REPLACE_ME"}, doc["metadata"]["name"]


def test_settings_hold_no_secret():
    secrets = {
        "SLACK_BOT_TOKEN",
        "KAFKA_SASL_PASSWORD",
        "DAGSTER_PG_PASSWORD",
        "ANALYTICS_LAKE_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
    }
    (settings,) = documents(REPO_ROOT / "deploy/k8s/settings.yaml")
    assert not secrets & set(settings["data"])
    assert "password" not in settings["data"]["ANALYTICS_LAKE_CATALOG"]


def test_every_environment_source_the_pods_name_exists():
    """The dashboard and the Helm values name ConfigMaps and Secrets that deploy/k8s makes."""
    made = {(doc["kind"], doc["metadata"]["name"]) for path in MANIFESTS for doc in documents(path)}
    values = yaml.safe_load((REPO_ROOT / "deploy/helm/values.yaml").read_text(encoding="utf-8"))
    (code,) = values["dagster-user-deployments"]["deployments"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    named = {("ConfigMap", s["name"]) for s in code["envConfigMaps"] + launcher["envConfigMaps"]}
    named |= {("Secret", s["name"]) for s in code["envSecrets"] + launcher["envSecrets"]}
    named.add(("Secret", values["global"]["postgresqlSecretName"]))
    assert named <= made, named - made
