-- The alerts outbox (SPEC §7): rules insert pending rows, the Slack op sends and records.
CREATE TABLE IF NOT EXISTS alerts (
    alert_key VARCHAR PRIMARY KEY,
    rule VARCHAR NOT NULL,
    user_id VARCHAR,
    event_ts TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    slack_ts VARCHAR,
    last_error VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);
