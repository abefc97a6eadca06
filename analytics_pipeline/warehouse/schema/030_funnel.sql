-- The daily funnel (SPEC §6), one partition per UTC day.
CREATE TABLE IF NOT EXISTS users_by_activation_stage (
    day DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    PRIMARY KEY (day, user_id)
);

CREATE TABLE IF NOT EXISTS funnel_daily (
    day DATE PRIMARY KEY,
    new_signups INTEGER NOT NULL,
    signed_up INTEGER NOT NULL,
    activated INTEGER NOT NULL,
    active INTEGER NOT NULL,
    inactive INTEGER NOT NULL,
    newly_activated INTEGER NOT NULL,
    newly_inactive INTEGER NOT NULL
);
