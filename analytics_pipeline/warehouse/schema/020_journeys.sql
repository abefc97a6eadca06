-- Journeys (SPEC §5): identity links, one row per attributed action, one row per user.
-- Written only by analytics_pipeline.warehouse.journeys, incrementally from the raw tables
-- (watermark "journeys" in pipeline_watermarks). Every table here is append-mostly: a late
-- identity link changes one user_identities row, never rows of the big event tables (DuckDB
-- rewrites whole column segments for scattered UPDATEs, which costs seconds at scale).

-- One row per anonymous_id: the user of its EARLIEST linking event (identify, or any
-- clickstream event carrying both ids), ordered by (ts, event_id). The earliest link wins,
-- whatever order events arrive in, so incremental runs equal a full rebuild.
CREATE TABLE IF NOT EXISTS user_identities (
    anonymous_id VARCHAR PRIMARY KEY,
    user_id VARCHAR NOT NULL,
    linked_at TIMESTAMPTZ NOT NULL,
    link_event_id VARCHAR NOT NULL
);

-- Actions of raw events that carry their own user_id (immutable attribution).
CREATE TABLE IF NOT EXISTS journey_events_by_user (
    source_topic VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    details JSON,
    ingest_batch_id BIGINT NOT NULL,
    PRIMARY KEY (source_topic, event_id)
);

-- Actions of raw events without a user_id (browser events before login, backend requests of
-- unknown users): their user is whatever user_identities says for their anonymous_id.
CREATE TABLE IF NOT EXISTS journey_events_anonymous (
    source_topic VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    details JSON,
    ingest_batch_id BIGINT NOT NULL,
    PRIMARY KEY (source_topic, event_id)
);

-- journey_events (SPEC §9, key source_topic + event_id): every action with its user. Browser
-- events move to their user as soon as a link for their anonymous_id is stored; events of no
-- known user have user_id NULL (user_via_identity says the user came from a link).
CREATE VIEW IF NOT EXISTS journey_events AS
SELECT
    source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id,
    false AS user_via_identity
FROM journey_events_by_user
UNION ALL
SELECT
    a.source_topic, a.event_id, i.user_id, a.anonymous_id, a.ts, a.action, a.details,
    a.ingest_batch_id, i.user_id IS NOT NULL AS user_via_identity
FROM journey_events_anonymous AS a
LEFT JOIN user_identities AS i ON i.anonymous_id = a.anonymous_id;

-- One row per user with at least one action. signed_up_at is the first signed_up action's
-- ts, or first_seen_at (the first action's ts) with signup_inferred = true; signup_day is
-- its UTC date.
CREATE TABLE IF NOT EXISTS user_journeys (
    user_id VARCHAR PRIMARY KEY,
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
