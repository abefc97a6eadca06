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
