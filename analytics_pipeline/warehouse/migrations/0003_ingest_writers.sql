-- Ingest writers side by side (ANALYTICS_INGEST_WRITERS, issue 19): no row or table that two
-- raw writers would both UPDATE. DuckLake detects conflicts per table (an UPDATE or DELETE
-- conflicts with any concurrent write to the same table), so every raw writer only appends:
--
-- * the ledger becomes a log, one row per partition a batch moved, with seq counting that
--   partition's rows (written under the partition's lock, warehouse/partition_locks.py);
--   `ingest_offsets` is now a view of each partition's latest row, with SPEC §9's columns;
-- * ingest_batch_counter goes: batch ids are taken without a shared row (ingest/writer.py),
--   and the journeys watermark is a DuckLake snapshot id instead of a batch id
--   (journeys/derive.py; 0003_ingest_writers.py moves it).
CREATE TABLE IF NOT EXISTS ingest_offset_log (
    topic VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    ingest_batch_id BIGINT,         -- the batch that moved the partition (NULL: a rewind)
    seq BIGINT NOT NULL             -- 1, 2, 3 … per (topic, kafka_partition): the latest wins
);
INSERT INTO ingest_offset_log
SELECT topic, kafka_partition, next_offset, updated_at, ingest_batch_id, 1 FROM ingest_offsets;
DROP TABLE ingest_offsets;
CREATE VIEW ingest_offsets AS
SELECT
    topic,
    kafka_partition,
    arg_max(next_offset, seq) AS next_offset,
    arg_max(updated_at, seq) AS updated_at,
    arg_max(ingest_batch_id, seq) AS ingest_batch_id,
    max(seq) AS seq
FROM ingest_offset_log
GROUP BY topic, kafka_partition;
DROP TABLE ingest_batch_counter;

-- The alert rules follow what the journeys step committed, by the snapshot it committed in
-- (journey rows keep their raw batch id, which no longer follows commit order).
CREATE OR REPLACE VIEW journey_events AS
SELECT
    source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id,
    user_via_identity, snapshot_id AS committed_snapshot
FROM journey_events_by_user
UNION ALL
SELECT
    source_topic, event_id, NULL::VARCHAR AS user_id, anonymous_id, ts, action, details,
    ingest_batch_id, false AS user_via_identity, snapshot_id AS committed_snapshot
FROM journey_events_anonymous;
