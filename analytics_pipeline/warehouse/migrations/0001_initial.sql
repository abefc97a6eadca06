-- Migration 0001: the schema of every lake made before the lake recorded its version (main at
-- commit b908819, when it was warehouse/schema/010_ingest.sql ... 050_report.sql, here one
-- after the other). Every statement is idempotent (IF NOT EXISTS, INSERT ... WHERE NOT EXISTS):
-- on a lake made before versions it runs again and only completes what an earlier release
-- left out. Never edit it: change the schema with a new migration (migrations/__init__.py).
-- The raw tables' key tables come from 0001_initial.py; the sort orders of the journey event
-- tables are set by the migrator when it creates them (schema_version.SORT_ORDERS).

-- ==== was schema/010_ingest.sql ====
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
-- §9 hold by construction and are verified by asset checks (ingest/raw_checks.py).
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

-- ==== was schema/020_journeys.sql ====
-- Journeys (SPEC §5): identity links, one row per attributed action, one row per user.
-- Written only by analytics_pipeline.journeys.derive, incrementally from the raw tables
-- (watermark "journeys" in pipeline_watermarks). The event tables are append-mostly: no
-- UPDATE of scattered rows (DuckDB rewrites whole column segments for those at checkpoint,
-- seconds at 20M rows). Their key (source_topic, event_id) holds by construction (each raw
-- row, unique by event_id, is read once, in the transaction that moves the watermark past
-- it) and is checked by the journey_events asset check; it is not declared as a PRIMARY KEY
-- because maintaining that index over 20M rows made each batch several times slower.

-- One row per anonymous_id: the user of its EARLIEST linking event (identify, or any
-- clickstream event carrying both ids), ordered by (ts, event_id). The earliest link wins,
-- whatever order events arrive in, so incremental runs equal a full rebuild.
CREATE TABLE IF NOT EXISTS user_identities (
    anonymous_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    linked_at TIMESTAMPTZ NOT NULL,
    link_event_id VARCHAR NOT NULL
);

-- Actions attributed to a user: by the raw event's own user_id, or (user_via_identity) by
-- the link of its anonymous_id.
CREATE TABLE IF NOT EXISTS journey_events_by_user (
    source_topic VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    details JSON,
    ingest_batch_id BIGINT NOT NULL,
    user_via_identity BOOLEAN NOT NULL DEFAULT false
);

-- Actions of no known user yet: browser events whose anonymous_id has no link (they move to
-- journey_events_by_user when one arrives) and backend requests without a user_id.
CREATE TABLE IF NOT EXISTS journey_events_anonymous (
    source_topic VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    details JSON,
    ingest_batch_id BIGINT NOT NULL
);

-- journey_events (SPEC §9, key source_topic + event_id): every action, with its user or
-- user_id NULL for events of no known user.
CREATE VIEW IF NOT EXISTS journey_events AS
SELECT
    source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id,
    user_via_identity
FROM journey_events_by_user
UNION ALL
SELECT
    source_topic, event_id, NULL::VARCHAR AS user_id, anonymous_id, ts, action, details,
    ingest_batch_id, false AS user_via_identity
FROM journey_events_anonymous;

-- One row per user with at least one action. signed_up_at is the first signed_up action's
-- ts, or first_seen_at (the first action's ts) with signup_inferred = true; signup_day is
-- its UTC date.
CREATE TABLE IF NOT EXISTS user_journeys (
    user_id VARCHAR NOT NULL,
    signed_up_at TIMESTAMPTZ NOT NULL,
    signup_inferred BOOLEAN NOT NULL,
    first_meaningful_at TIMESTAMPTZ,
    last_meaningful_at TIMESTAMPTZ,
    meaningful_days INTEGER NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    actions INTEGER NOT NULL DEFAULT 0,
    signup_day DATE
);

-- The UTC dates on which each user had a meaningful action: the funnel's only input besides
-- user_journeys.signup_day, kept small so one day's funnel is one pass over it.
CREATE TABLE IF NOT EXISTS user_meaningful_days (
    user_id VARCHAR NOT NULL,
    day DATE NOT NULL
);

-- The funnel days each journeys transaction changed (SPEC §6 "the product must say which
-- ones are stale"), written in the same transaction as the journeys, so a crash before the
-- run reports them to Dagster loses nothing: `reported_at` stays NULL until the journeys
-- asset has logged `funnel_stale_from`, and the next run reports what is still unreported.
CREATE TABLE IF NOT EXISTS funnel_stale_marks (
    earliest_day DATE NOT NULL,
    ingest_batch_id BIGINT NOT NULL,   -- the journeys watermark of the transaction
    marked_at TIMESTAMPTZ NOT NULL,
    reported_at TIMESTAMPTZ
);

-- ==== was schema/030_funnel.sql ====
-- The daily funnel (SPEC §6), one partition per UTC day, rewritten per day by
-- analytics_pipeline.funnel.stages (delete + insert of the days in one transaction).
-- (day, user_id) is the key of users_by_activation_stage; it is not declared as a PRIMARY
-- KEY because an index over tens of millions of rows would make every partition write
-- several times slower. The asset checks verify it instead ("one stage per user and day").
CREATE TABLE IF NOT EXISTS users_by_activation_stage (
    day DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    signed_up_at TIMESTAMPTZ,
    signup_inferred BOOLEAN,
    meaningful_days INTEGER,         -- |M|: meaningful UTC dates up to and including day
    first_meaningful_day DATE,
    last_meaningful_day DATE,        -- max(M)
    new_signup BOOLEAN,              -- sign-up time on day
    newly_activated BOOLEAN,         -- first meaningful date is day
    newly_inactive BOOLEAN           -- max(M) = day - W
);

CREATE TABLE IF NOT EXISTS funnel_daily (
    day DATE NOT NULL,
    new_signups INTEGER NOT NULL,
    signed_up INTEGER NOT NULL,
    activated INTEGER NOT NULL,
    active INTEGER NOT NULL,
    inactive INTEGER NOT NULL,
    newly_activated INTEGER NOT NULL,
    newly_inactive INTEGER NOT NULL,
    inactive_after_days INTEGER      -- the W the day was computed with
);

-- Each user's sign-up and its UTC day, the funnel's input (funnel.sql). signup_day is
-- derived from signed_up_at for rows written before user_journeys stored it.
CREATE VIEW IF NOT EXISTS user_signups AS
SELECT
    user_id,
    signed_up_at,
    signup_inferred,
    coalesce(
        signup_day, DATE '1970-01-01' + CAST(floor(epoch(signed_up_at) / 86400) AS INTEGER)
    ) AS signup_day
FROM user_journeys;

-- ==== was schema/040_alerts.sql ====
-- The alerts outbox (SPEC §7): rules insert rows (pending, or skipped when Slack is not
-- configured) keyed by a stable alert_key, so a key is stored and posted once; the Slack op
-- sends what is pending and records the outcome here.
CREATE TABLE IF NOT EXISTS alerts (
    alert_key VARCHAR NOT NULL,          -- rule + entity + period, e.g. api_errors:u-7:2026-11-26T10
    rule VARCHAR NOT NULL,                  -- a rule of analytics_pipeline/alerts/rules/ (one file each)
    user_id VARCHAR,
    event_ts TIMESTAMPTZ NOT NULL,          -- the event that completed the rule
    status VARCHAR NOT NULL,                -- pending, sent, failed, skipped
    attempts INTEGER NOT NULL DEFAULT 0,    -- failed sends so far (configuration errors do not count)
    slack_ts VARCHAR,
    last_error VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    entity VARCHAR,                         -- user or deployment the alert is about
    period VARCHAR,                         -- UTC hour of windowed rules, else NULL
    details JSON,                           -- what the Slack message shows
    slack_channel VARCHAR,                  -- channel id Slack posted to
    updated_at TIMESTAMPTZ
);

-- ==== was schema/050_report.sql ====
-- Delivery ledger of the daily funnel report: one row per day and stage (SPEC §9).
-- status: pending (rendered, not delivered yet or delivery in progress), sent, failed
-- (the last attempt failed; the next run resumes), skipped (not posted: see detail).
-- slack_ts / file_id / replies_posted record each step of a delivery as it happens, so a
-- retry continues the same thread instead of posting the stage again.
CREATE TABLE IF NOT EXISTS report_deliveries (
    day DATE NOT NULL,
    stage VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    pdf_path VARCHAR,
    slack_ts VARCHAR,
    delivered_at TIMESTAMPTZ,
    user_count INTEGER,
    page_count INTEGER,
    rendered_at TIMESTAMPTZ,
    channel_id VARCHAR,
    file_id VARCHAR,
    replies_posted INTEGER NOT NULL DEFAULT 0,
    replies_planned INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    detail VARCHAR,
    updated_at TIMESTAMPTZ
);
