-- Journeys (SPEC §5): identity links, one row per attributed action, one row per user.
CREATE TABLE IF NOT EXISTS user_identities (
    anonymous_id VARCHAR PRIMARY KEY,
    user_id VARCHAR NOT NULL,
    linked_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS journey_events (
    source_topic VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,
    user_id VARCHAR,
    anonymous_id VARCHAR,
    ts TIMESTAMPTZ NOT NULL,
    action VARCHAR NOT NULL,
    details JSON,
    ingest_batch_id BIGINT NOT NULL,
    PRIMARY KEY (source_topic, event_id)
);

CREATE TABLE IF NOT EXISTS user_journeys (
    user_id VARCHAR PRIMARY KEY,
    signed_up_at TIMESTAMPTZ NOT NULL,
    signup_inferred BOOLEAN NOT NULL,
    first_meaningful_at TIMESTAMPTZ,
    last_meaningful_at TIMESTAMPTZ,
    meaningful_days INTEGER NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
