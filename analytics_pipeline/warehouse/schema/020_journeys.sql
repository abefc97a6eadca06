-- Journeys (SPEC §5): identity links, one row per attributed action, one row per user.
-- Written only by analytics_pipeline.warehouse.journeys, incrementally from the raw tables
-- (watermark "journeys" in pipeline_watermarks).

-- One row per anonymous_id: the user of its EARLIEST linking event (identify, or any
-- clickstream event carrying both ids), ordered by (ts, event_id). The earliest link wins,
-- whatever order events arrive in, so incremental runs equal a full rebuild.
CREATE TABLE IF NOT EXISTS user_identities (
    anonymous_id VARCHAR PRIMARY KEY,
    user_id VARCHAR NOT NULL,
    linked_at TIMESTAMPTZ NOT NULL,
    link_event_id VARCHAR NOT NULL
);

-- One row per raw event some action rule matched. user_id is NULL while the event belongs to
-- no known user; user_via_identity says it came from user_identities (and may move when an
-- earlier link arrives late).
CREATE TABLE IF NOT EXISTS journey_events (
    source_topic VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    user_id VARCHAR,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    details JSON,
    ingest_batch_id BIGINT NOT NULL,
    user_via_identity BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (source_topic, event_id)
);

-- One row per user with at least one action. signed_up_at is the first signed_up action's
-- ts, or first_seen_at (the first action's ts) with signup_inferred = true.
CREATE TABLE IF NOT EXISTS user_journeys (
    user_id VARCHAR PRIMARY KEY,
    signed_up_at TIMESTAMPTZ NOT NULL,
    signup_inferred BOOLEAN NOT NULL,
    first_meaningful_at TIMESTAMPTZ,
    last_meaningful_at TIMESTAMPTZ,
    meaningful_days INTEGER NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    actions INTEGER NOT NULL DEFAULT 0
);

-- The UTC dates on which each user had a meaningful action: the funnel's only input besides
-- user_journeys.signed_up_at, kept small so one day's funnel is one pass over it.
CREATE TABLE IF NOT EXISTS user_meaningful_days (
    user_id VARCHAR NOT NULL,
    day DATE NOT NULL
);
