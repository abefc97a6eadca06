-- The daily funnel (SPEC §6), one partition per UTC day, rewritten per day by
-- analytics_pipeline.warehouse.funnel (delete + insert of the days in one transaction).
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
