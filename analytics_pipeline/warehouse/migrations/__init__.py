"""The lake's schema, as numbered migrations: `NNNN_name.sql`, plus `NNNN_name.py` with a
`migrate(conn)` where data must move. `warehouse.schema_version` applies them, in order,
each once, in one transaction with its row in the lake's `schema_migrations` table.

To change the schema, add the next number (never edit a released migration: lakes in the
field have run it already):

- `0002_alert_channel.sql`: the DDL, e.g. `ALTER TABLE alerts ADD COLUMN channel VARCHAR;`
  (DuckLake: ADD/DROP/RENAME COLUMN, widening a type, CREATE/DROP TABLE and VIEW;
  `CREATE OR REPLACE VIEW` to change a view).
- `0002_alert_channel.py` (optional): `def migrate(conn: duckdb.DuckDBPyConnection) -> None`,
  run after the `.sql` in the same transaction, for data the DDL cannot move (an UPDATE
  from JSON, a copy into a new table). It may run again after a commit conflict, from
  what is committed, so it must not depend on having run before.

A new table that needs a sort order gets it from `schema_version.SORT_ORDERS` when its
migration creates it.
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
