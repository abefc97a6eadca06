-- Delivery ledger of the daily funnel report (one row per day and stage).
CREATE TABLE IF NOT EXISTS report_deliveries (
    day DATE NOT NULL,
    stage VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    pdf_path VARCHAR,
    slack_ts VARCHAR,
    delivered_at TIMESTAMPTZ,
    PRIMARY KEY (day, stage)
);
