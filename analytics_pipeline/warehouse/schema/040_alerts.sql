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
