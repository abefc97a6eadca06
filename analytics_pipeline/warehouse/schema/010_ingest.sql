-- Raw events exactly as accepted from Kafka, the dead letters, and the offset ledger.
-- event_id is the raw tables' key: the writer stores each once (first wins) and the
-- no_duplicate_event_ids check verifies it. It is deliberately not a PRIMARY KEY: DuckDB keeps
-- such indexes in memory and maintains them row by row, which costs more than the whole rest
-- of a batch at tens of millions of events (an ART index on a key column took 3-4 s and
-- 1.7 GB per 50,000 new keys at 28 M). Instead each raw table has a key table: an 8-byte hash
-- of each stored row's event_id and its batch, created and kept in step with the raw table by
-- warehouse/raw_tables.py.
-- ingest_batch_id orders everything one ingest transaction wrote; downstream steps keep
-- their own watermark on it (pipeline_watermarks) to process only what is new.
-- The lake has no sequences and no PRIMARY KEY / UNIQUE constraints: the keys named in SPEC
-- §9 hold by construction and are verified by asset checks (warehouse/raw_checks.py).
--
-- ingest_batch_counter holds the last batch id. Every ingest transaction increments it, so
-- two ingest transactions that overlap in time conflict at commit (DuckLake rejects the
-- second writer of a table another transaction updated) and the loser is retried from the
-- ledger: batch ids are unique and increase in commit order, which the watermarks rely on.
-- It may briefly hold more than one row if two processes create the lake at once; readers
-- take max(), and an UPDATE moves them all.
CREATE TABLE IF NOT EXISTS ingest_batch_counter (
    last_batch_id BIGINT NOT NULL
);
INSERT INTO ingest_batch_counter
SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM ingest_batch_counter);

CREATE TABLE IF NOT EXISTS raw_clickstream_events (
    kafka_partition INTEGER NOT NULL,
    kafka_offset BIGINT NOT NULL,
    event_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    anonymous_id VARCHAR NOT NULL,
    user_id VARCHAR,
    session_id VARCHAR,
    page_url VARCHAR,
    payload JSON NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    ingest_batch_id BIGINT NOT NULL,
    kafka_topic VARCHAR
);

CREATE TABLE IF NOT EXISTS raw_backend_events (
    kafka_partition INTEGER NOT NULL,
    kafka_offset BIGINT NOT NULL,
    event_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    user_id VARCHAR,
    method VARCHAR,
    path VARCHAR,
    status INTEGER,
    duration_ms DOUBLE,
    error_code VARCHAR,
    error_message VARCHAR,
    deployment_id VARCHAR,
    deployment_status VARCHAR,
    payload JSON NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    ingest_batch_id BIGINT NOT NULL,
    kafka_topic VARCHAR
);

CREATE TABLE IF NOT EXISTS dead_letter_events (
    topic VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset BIGINT NOT NULL,
    reason VARCHAR NOT NULL,
    detail VARCHAR,
    raw_value BLOB,
    raw_size BIGINT NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    ingest_batch_id BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS ingest_offsets (
    topic VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    ingest_batch_id BIGINT          -- the batch that last moved this partition
);

-- Named high-water marks of incremental steps (journeys, alerts): value is the last
-- ingest_batch_id (or other monotonic number) the step has fully processed.
CREATE TABLE IF NOT EXISTS pipeline_watermarks (
    name VARCHAR NOT NULL,
    value BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
