-- Journeys (SPEC §5): identity links, one row per attributed action, one row per user.
-- Written only by analytics_pipeline.warehouse.journeys, incrementally from the raw tables
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
