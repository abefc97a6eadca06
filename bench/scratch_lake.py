"""A throw-away lake for benchmarks: its own catalog database on the local PostgreSQL and a
temporary data folder, both removed afterwards."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

from analytics_pipeline.warehouse import Lake
from analytics_pipeline.warehouse.lake import detach


def _admin(dbname: str):
    import psycopg2

    conn = psycopg2.connect(
        host=os.environ.get("DAGSTER_PG_HOST", "127.0.0.1"),
        port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
        user=os.environ.get("DAGSTER_PG_USERNAME", "dagster"),
        password=os.environ.get("DAGSTER_PG_PASSWORD", "dagster"),
        dbname=dbname,
    )
    conn.autocommit = True
    return conn


@contextmanager
def scratch_lake(prefix: str = "bench") -> Iterator[Lake]:
    name = f"{prefix}_lake_{uuid.uuid4().hex[:8]}"
    with closing(_admin("dagster")) as conn, conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    lake = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            lake = Lake(
                catalog=(
                    f"postgres:dbname={name} host={os.environ.get('DAGSTER_PG_HOST', '127.0.0.1')}"
                    f" port={os.environ.get('DAGSTER_PG_PORT', '5432')}"
                    f" user={os.environ.get('DAGSTER_PG_USERNAME', 'dagster')}"
                ),
                data_path=folder + "/",
                password=os.environ.get("DAGSTER_PG_PASSWORD", "dagster"),
            )
            yield lake
    finally:
        if lake is not None:
            detach(lake)
        with closing(_admin("dagster")) as conn, conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
