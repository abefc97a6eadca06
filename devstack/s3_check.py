"""Does the S3 server at ENDPOINT accept the key pair and hold BUCKET? (devstack/s3.sh, tests)

Usage: s3_check.py ENDPOINT BUCKET, with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the
environment (never as arguments). Lists the bucket once through DuckDB's httpfs, the client the
pipeline uses. Exit status: 0 yes; 3 the key pair is refused; 4 no such bucket; 5 no answer.
"""

from __future__ import annotations

import os
import sys

import duckdb

from analytics_pipeline.warehouse import object_store
from analytics_pipeline.warehouse.lake import S3_EXTENSIONS, load_extensions


def main() -> int:
    endpoint, bucket = sys.argv[1], sys.argv[2]
    access = object_store.S3Access(
        region=os.environ.get("AWS_REGION") or "us-east-1",
        endpoint_url=endpoint,
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )
    conn = duckdb.connect(config={"autoinstall_known_extensions": False})
    load_extensions(conn, S3_EXTENSIONS)
    url = f"s3://{bucket}/"
    conn.execute(object_store.secret_sql("devstack_check", access, url))
    try:
        object_store.probe(conn, url)
    except duckdb.Error as error:
        print(object_store.advice(error, access, bucket), file=sys.stderr)
        text = str(error)
        if "NoSuchBucket" in text:
            return 4
        if "403" in text or "Forbidden" in text:
            return 3
        return 5
    return 0


if __name__ == "__main__":
    sys.exit(main())
