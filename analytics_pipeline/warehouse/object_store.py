"""The lake's data files on S3 or an S3-compatible server: DuckDB's secret, a first look at the
bucket, and errors that say what to do.

Credentials and endpoint are the AWS SDK's variables (SPEC §2), so one set of settings serves
DuckDB, boto3 and the AWS CLI. Without a key pair the AWS credential chain applies (instance
profile, web identity, ~/.aws), through DuckDB's aws extension.

Every message names the endpoint and the bucket, never a secret: what DuckDB says is cut to its
first line and any secret value in it is replaced by ***.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import duckdb


@dataclass(frozen=True)
class S3Access:
    """How to reach the object store: region, endpoint (None: AWS S3 itself), and a key pair
    (None: the AWS credential chain)."""

    region: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @property
    def uses_credential_chain(self) -> bool:
        return self.access_key_id is None

    @property
    def endpoint(self) -> str:
        """The endpoint for messages (no secrets)."""
        return self.endpoint_url or f"AWS S3 in {self.region}"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret_access_key, self.session_token) if s)


def split_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of an s3:// URL."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix


def literal(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def secret_sql(name: str, access: S3Access, scope: str) -> str:
    """CREATE OR REPLACE SECRET for the data files under `scope` (the lake's data path). It
    holds secret values: never log it, and never let its text into an error."""
    options = [
        "TYPE s3",
        f"REGION {literal(access.region)}",
        f"SCOPE {literal(scope)}",
    ]
    if access.uses_credential_chain:
        options.insert(1, "PROVIDER credential_chain")
    else:
        options.append(f"KEY_ID {literal(access.access_key_id or '')}")
        options.append(f"SECRET {literal(access.secret_access_key or '')}")
        if access.session_token:
            options.append(f"SESSION_TOKEN {literal(access.session_token)}")
    if access.endpoint_url:
        parts = urlsplit(access.endpoint_url)
        # S3-compatible servers (SeaweedFS, MinIO, Ceph) serve buckets as paths.
        options += [
            f"ENDPOINT {literal(parts.netloc)}",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}",
        ]
    return f"CREATE OR REPLACE SECRET {name} ({', '.join(options)})"


def probe(conn: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """List the data path once (one request): a wrong key, a missing bucket or an endpoint
    that does not answer shows up here, before any run writes."""
    conn.execute(f"SELECT count(*) FROM glob({literal(data_path + '*')})").fetchall()


_HTTP_VERB = re.compile(r"\bHTTP (GET|PUT|HEAD|POST|DELETE)\b")


def is_storage_error(error: BaseException) -> bool:
    """True when DuckDB failed talking to the object store (not to the catalog)."""
    if isinstance(error, duckdb.HTTPException):
        return True
    text = str(error)
    return (
        "s3://" in text
        or bool(_HTTP_VERB.search(text))
        or "Secret Validation Failure" in text
        or "Could not connect to server error for HTTP" in text
    )


def advice(error: BaseException, access: S3Access, bucket: str) -> str:
    """What went wrong with the object store, and what to do about it."""
    text = str(error)
    if "Secret Validation Failure" in text:
        return (
            "the AWS credential chain found no credentials on this host: set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the host a role "
            "(instance profile, web identity)"
        )
    if "NoSuchBucket" in text or ("404" in text and "Not Found" in text and "/" not in bucket):
        return (
            f"the bucket {bucket!r} does not exist there: create it (`make up` creates the "
            "local stack's) or correct ANALYTICS_LAKE_DATA_PATH"
        )
    if any(mark in text for mark in ("403", "Forbidden", "AccessDenied", "InvalidAccessKeyId")):
        who = (
            "the role the AWS credential chain found"
            if access.uses_credential_chain
            else "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        )
        return (
            f"the object store refused the credentials (HTTP 403): check {who}, and that they "
            "may list, read, write and delete under the data path"
        )
    if "Could not connect" in text or "Connection refused" in text or "timed out" in text:
        return (
            "the object store does not answer: check AWS_ENDPOINT_URL_S3 (or "
            "AWS_ENDPOINT_URL) and that the server runs (`make up` starts the local one)"
        )
    return "check the object store, AWS_ENDPOINT_URL_S3 and the AWS_* credentials"


def first_line(error: BaseException, secrets: tuple[str, ...]) -> str:
    """DuckDB's message in one line, with every secret value replaced by ***."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    reason = lines[0] if lines else type(error).__name__
    for secret in secrets:
        reason = reason.replace(secret, "***")
    return reason
