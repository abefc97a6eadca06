"""Every environment variable of SPEC §2, typed, in one place.

Each default is written once, in `Settings`; `load_settings` and the resources
(analytics_pipeline.resources) take theirs from it. Bad values fail at load time with an error
that names the variable, never its secret value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SLACK_PUBLIC_API_URL = "https://slack.com/api/"
SECRET_VARIABLES = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "KAFKA_SASL_PASSWORD",
        "DAGSTER_PG_PASSWORD",
        "ANALYTICS_LAKE_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }
)
LOCAL_LAKE_PASSWORD = "dagster"
# A sensor evaluation that takes longer than Dagster's gRPC timeout (60 s) fails its tick.
MAX_SENSOR_WAIT_SECONDS = 50
# A live tail stays well inside the ingest runs' max runtime (defs/ingest/sensors.py, 900 s),
# after which run monitoring would fail the run.
MAX_LIVE_SECONDS = 600
# Writers beyond the partitions of a topic would have nothing to do; 64 bounds the pools.
MAX_INGEST_WRITERS = 64
DEFAULT_LAKE_CATALOG = "postgres:dbname=analytics_lake host=127.0.0.1 port=5432 user=dagster"
# The AWS SDK's own default when neither AWS_REGION nor AWS_DEFAULT_REGION is set.
DEFAULT_AWS_REGION = "us-east-1"


class ConfigError(ValueError):
    """A configuration variable is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = field(default=None, repr=False)
    clickstream_topic: str = "portal-clickstream"
    backend_topic: str = "portal-backend"
    # The streams the pipeline publishes (SPEC §10): journey actions, and funnel stage changes.
    journey_topic: str = "portal-journeys"
    stage_topic: str = "portal-user-stages"
    lake_catalog: str = DEFAULT_LAKE_CATALOG
    # The local dev stack's password (SPEC §2), so the CLI and dashboard work in a fresh clone.
    lake_password: str | None = field(default=LOCAL_LAKE_PASSWORD, repr=False)
    lake_data_path: str = "data/lake/"
    lake_metadata_schema: str | None = None
    lake_retention_days: int = 7
    # Object storage for an s3:// lake data path, read as the AWS SDK reads it (SPEC §2). No
    # key pair: the AWS credential chain (instance profile, web identity, ~/.aws) applies.
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    aws_region: str = DEFAULT_AWS_REGION
    aws_endpoint_url: str | None = None  # http(s)://host[:port]; unset: AWS S3 itself
    reports_dir: Path = Path("data/reports")
    inactive_after_days: int = 15
    deploy_slow_minutes: int = 10
    stalled_after_minutes: int = 30
    ingest_max_batch: int = 50_000
    ingest_max_batch_bytes: int = 64 * 1024 * 1024
    ingest_sensor_wait_seconds: int = 45
    # Raw-ingest runs that may commit at once, each over its own partitions (defs/ingest/
    # writers.py): partition p of each topic belongs to writer p % ingest_writers.
    ingest_writers: int = 1
    # The live tail (ingest/live.py): how long an ingest run keeps taking new messages after its
    # planned ranges, and how long without one before it ends early. 0 seconds: no live tail.
    ingest_live_seconds: int = 120
    ingest_live_idle_seconds: int = 20
    # The ingest check dead_letter_share warns when more of a run's messages are dead letters.
    dead_letter_warn_share: float = 0.05
    # The raw tables' freshness check fails when no ingest run updated them for this long.
    raw_stale_after_minutes: int = 15
    funnel_start_date: str = "2026-01-01"
    # funnel_catch_up_sensor computes missing funnel days within this many last days (the
    # simulator's default history is 30 days).
    funnel_catch_up_days: int = 31
    background_niceness: int = 10
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str = SLACK_PUBLIC_API_URL
    slack_alerts_channel: str = "#portal-alerts"
    slack_reports_channel: str = "#portal-analytics"

    @property
    def topics(self) -> tuple[str, str]:
        return (self.clickstream_topic, self.backend_topic)


def _text(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _int(
    env: Mapping[str, str], name: str, default: int, valid: Callable[[int], bool], expected: str
) -> int:
    """An integer variable for which `valid` holds; else an error saying it must be `expected`."""
    raw = _text(env, name, None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ConfigError(f"{name} must be {expected}, got {raw!r}")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    return _int(env, name, default, lambda value: value > 0, "a positive integer")


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    """A fraction from 0 to 1; else an error naming the variable."""
    raw = _text(env, name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be a fraction from 0 to 1 (e.g. 0.05), got {raw!r}")
    return value


def _iso_date(env: Mapping[str, str], name: str, default: str) -> str:
    from datetime import date

    raw = _text(env, name, default) or default
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a date like 2026-01-01, got {raw!r}") from None
    return raw


def _lake_catalog(env: Mapping[str, str]) -> str:
    catalog = _text(env, "ANALYTICS_LAKE_CATALOG", DEFAULT_LAKE_CATALOG) or DEFAULT_LAKE_CATALOG
    if not catalog.startswith("postgres:"):
        raise ConfigError(
            "ANALYTICS_LAKE_CATALOG must be 'postgres:' and a libpq connection string, e.g. "
            f"{DEFAULT_LAKE_CATALOG!r}"
        )
    if "password" in catalog.lower():
        raise ConfigError(
            "ANALYTICS_LAKE_CATALOG must not contain the password; set ANALYTICS_LAKE_PASSWORD"
        )
    if "'" in catalog:
        raise ConfigError("ANALYTICS_LAKE_CATALOG must not contain quotes")
    return catalog


def _identifier(env: Mapping[str, str], name: str) -> str | None:
    raw = _text(env, name, None)
    if raw is not None and not raw.replace("_", "a").isalnum():
        raise ConfigError(f"{name} must be a plain identifier (letters, digits, _), got {raw!r}")
    return raw


def _data_path(env: Mapping[str, str]) -> str:
    """A URL as given; a local folder made absolute (runs start in other working directories)
    and ending in a slash, as DuckLake expects."""
    raw = _text(env, "ANALYTICS_LAKE_DATA_PATH", None) or Settings.lake_data_path
    if "'" in raw:
        raise ConfigError("ANALYTICS_LAKE_DATA_PATH must not contain quotes")
    if "://" in raw:
        url = raw if raw.endswith("/") else raw + "/"
        scheme, _, rest = url.partition("://")
        bucket, _, prefix = rest.partition("/")
        if scheme != "s3":
            raise ConfigError(
                f"ANALYTICS_LAKE_DATA_PATH must be a local folder or an s3:// URL, got {raw!r} "
                "(other object stores: their S3-compatible endpoint in AWS_ENDPOINT_URL_S3)"
            )
        # DuckLake cannot keep a lake at a bucket's root (ducklake#255), and S3 bucket names
        # are lowercase (DuckDB's S3 support misreads others, ducklake#562).
        if not bucket or not prefix.strip("/") or bucket != bucket.lower():
            raise ConfigError(
                "ANALYTICS_LAKE_DATA_PATH must be s3://<bucket>/<prefix>/ with a lowercase "
                f"bucket name and a folder inside the bucket (not its root), got {raw!r}"
            )
        return url
    return str(Path(raw).resolve()) + "/"


def _endpoint_url(env: Mapping[str, str]) -> str | None:
    """AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (the AWS SDK's order), as http(s)://host[:port]."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        raw = _text(env, name, None)
        if raw is None:
            continue
        scheme, _, rest = raw.partition("://")
        host = rest.rstrip("/")
        if scheme not in ("http", "https") or not host or "/" in host or "'" in host:
            raise ConfigError(
                f"{name} must be an http(s) URL of the S3 endpoint such as "
                f"http://127.0.0.1:8333, got {raw!r}"
            )
        return f"{scheme}://{host}"
    return None


def _aws_keys(env: Mapping[str, str], lake_on_s3: bool) -> tuple[str | None, str | None]:
    key_id = _text(env, "AWS_ACCESS_KEY_ID", None)
    secret = _text(env, "AWS_SECRET_ACCESS_KEY", None)
    if lake_on_s3 and (key_id is None) != (secret is None):
        raise ConfigError(
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (then the AWS "
            "credential chain applies: instance profile, web identity, ~/.aws)"
        )
    return key_id, secret


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    protocol = (
        _text(env, "KAFKA_SECURITY_PROTOCOL", Settings.kafka_security_protocol)
        or Settings.kafka_security_protocol
    ).upper()
    if protocol not in {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}:
        raise ConfigError(
            "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, "
            f"got {protocol!r}"
        )
    mechanism = _text(env, "KAFKA_SASL_MECHANISM", None)
    if protocol.startswith("SASL") and mechanism is None:
        raise ConfigError("KAFKA_SASL_MECHANISM is required when KAFKA_SECURITY_PROTOCOL is SASL_*")
    bootstrap = _text(env, "KAFKA_BOOTSTRAP_SERVERS", Settings.kafka_bootstrap_servers)
    assert bootstrap is not None
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"KAFKA_BOOTSTRAP_SERVERS must be host:port[,host:port...], got {bootstrap!r}"
            )
    slack_url = _text(env, "SLACK_API_URL", SLACK_PUBLIC_API_URL) or SLACK_PUBLIC_API_URL
    lake_data_path = _data_path(env)
    aws_key_id, aws_secret = _aws_keys(env, lake_data_path.startswith("s3://"))
    if not slack_url.startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL, got {slack_url!r}")
    if not slack_url.endswith("/"):
        slack_url += "/"
    return Settings(
        kafka_bootstrap_servers=bootstrap,
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username=_text(env, "KAFKA_SASL_USERNAME", None),
        kafka_sasl_password=_text(env, "KAFKA_SASL_PASSWORD", None),
        clickstream_topic=_text(env, "ANALYTICS_CLICKSTREAM_TOPIC", Settings.clickstream_topic)
        or Settings.clickstream_topic,
        backend_topic=_text(env, "ANALYTICS_BACKEND_TOPIC", Settings.backend_topic)
        or Settings.backend_topic,
        journey_topic=_text(env, "ANALYTICS_JOURNEY_TOPIC", Settings.journey_topic)
        or Settings.journey_topic,
        stage_topic=_text(env, "ANALYTICS_STAGE_TOPIC", Settings.stage_topic)
        or Settings.stage_topic,
        lake_catalog=_lake_catalog(env),
        lake_password=_text(env, "ANALYTICS_LAKE_PASSWORD", LOCAL_LAKE_PASSWORD),
        lake_data_path=lake_data_path,
        lake_metadata_schema=_identifier(env, "ANALYTICS_LAKE_METADATA_SCHEMA"),
        lake_retention_days=_positive_int(
            env, "ANALYTICS_LAKE_RETENTION_DAYS", Settings.lake_retention_days
        ),
        aws_access_key_id=aws_key_id,
        aws_secret_access_key=aws_secret,
        aws_session_token=_text(env, "AWS_SESSION_TOKEN", None),
        aws_region=_text(env, "AWS_REGION", None)
        or _text(env, "AWS_DEFAULT_REGION", DEFAULT_AWS_REGION)
        or DEFAULT_AWS_REGION,
        aws_endpoint_url=_endpoint_url(env),
        reports_dir=Path(_text(env, "ANALYTICS_REPORTS_DIR", None) or Settings.reports_dir),
        inactive_after_days=_positive_int(
            env, "ANALYTICS_INACTIVE_AFTER_DAYS", Settings.inactive_after_days
        ),
        deploy_slow_minutes=_positive_int(
            env, "ANALYTICS_DEPLOY_SLOW_MINUTES", Settings.deploy_slow_minutes
        ),
        stalled_after_minutes=_positive_int(
            env, "ANALYTICS_STALLED_AFTER_MINUTES", Settings.stalled_after_minutes
        ),
        ingest_max_batch=_positive_int(
            env, "ANALYTICS_INGEST_MAX_BATCH", Settings.ingest_max_batch
        ),
        ingest_max_batch_bytes=_positive_int(
            env, "ANALYTICS_INGEST_MAX_BATCH_BYTES", Settings.ingest_max_batch_bytes
        ),
        ingest_writers=_int(
            env,
            "ANALYTICS_INGEST_WRITERS",
            Settings.ingest_writers,
            lambda value: 1 <= value <= MAX_INGEST_WRITERS,
            f"a whole number from 1 to {MAX_INGEST_WRITERS}",
        ),
        ingest_sensor_wait_seconds=_int(
            env,
            "ANALYTICS_INGEST_SENSOR_WAIT_SECONDS",
            Settings.ingest_sensor_wait_seconds,
            lambda value: 0 <= value <= MAX_SENSOR_WAIT_SECONDS,
            f"a whole number from 0 to {MAX_SENSOR_WAIT_SECONDS}",
        ),
        ingest_live_seconds=_int(
            env,
            "ANALYTICS_INGEST_LIVE_SECONDS",
            Settings.ingest_live_seconds,
            lambda value: 0 <= value <= MAX_LIVE_SECONDS,
            f"a whole number from 0 (off) to {MAX_LIVE_SECONDS}",
        ),
        ingest_live_idle_seconds=_int(
            env,
            "ANALYTICS_INGEST_LIVE_IDLE_SECONDS",
            Settings.ingest_live_idle_seconds,
            lambda value: 1 <= value <= MAX_LIVE_SECONDS,
            f"a whole number from 1 to {MAX_LIVE_SECONDS}",
        ),
        dead_letter_warn_share=_share(
            env, "ANALYTICS_DEAD_LETTER_WARN_SHARE", Settings.dead_letter_warn_share
        ),
        raw_stale_after_minutes=_positive_int(
            env, "ANALYTICS_RAW_STALE_AFTER_MINUTES", Settings.raw_stale_after_minutes
        ),
        funnel_catch_up_days=_positive_int(
            env, "ANALYTICS_FUNNEL_CATCH_UP_DAYS", Settings.funnel_catch_up_days
        ),
        funnel_start_date=_iso_date(env, "ANALYTICS_FUNNEL_START_DATE", Settings.funnel_start_date),
        background_niceness=_int(
            env,
            "ANALYTICS_BACKGROUND_NICENESS",
            Settings.background_niceness,
            lambda value: 0 <= value <= 19,
            "a whole number from 0 (off) to 19",
        ),
        slack_bot_token=_text(env, "SLACK_BOT_TOKEN", None),
        slack_api_url=slack_url,
        slack_alerts_channel=_text(env, "SLACK_ALERTS_CHANNEL", None)
        or Settings.slack_alerts_channel,
        slack_reports_channel=_text(env, "SLACK_REPORTS_CHANNEL", None)
        or Settings.slack_reports_channel,
    )
