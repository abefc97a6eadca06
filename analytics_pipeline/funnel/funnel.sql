-- The funnel of SPEC §6 for every day D in [$first_day, $last_day] (see funnel.py).
-- Inputs: user_signups.signup_day (the UTC date of a user's one sign-up time) and
-- user_meaningful_days (the UTC dates with a meaningful action). M(D) = meaningful dates
-- <= D, W = $w.

-- name: delete_stages
DELETE FROM users_by_activation_stage WHERE day BETWEEN $first_day AND $last_day;

-- name: insert_stages_one_day
-- One day ($first_day = $last_day = D): |M|, max(M), min(M) per user by one aggregation.
INSERT INTO users_by_activation_stage (
    day, user_id, stage, signed_up_at, signup_inferred, meaningful_days,
    first_meaningful_day, last_meaningful_day, new_signup, newly_activated, newly_inactive
)
WITH signed_up AS (
    SELECT user_id, signed_up_at, signup_inferred, signup_day
    FROM user_signups
    WHERE signup_day <= $last_day::DATE
),
meaningful AS (
    SELECT user_id, count(*) AS n, max(day) AS mday, min(day) AS first_day
    FROM user_meaningful_days
    WHERE day <= $last_day::DATE
    GROUP BY user_id
)
SELECT
    $last_day::DATE AS day,
    s.user_id,
    CASE
        WHEN m.n IS NULL THEN 'signed_up'
        WHEN m.mday < $last_day::DATE - ($w - 1) THEN 'inactive'
        WHEN m.n = 1 THEN 'activated'
        ELSE 'active'
    END AS stage,
    s.signed_up_at,
    s.signup_inferred,
    coalesce(m.n, 0)::INTEGER AS meaningful_days,
    m.first_day AS first_meaningful_day,
    m.mday AS last_meaningful_day,
    s.signup_day = $last_day::DATE AS new_signup,
    coalesce(m.first_day = $last_day::DATE, false) AS newly_activated,
    coalesce(m.mday = $last_day::DATE - $w, false) AS newly_inactive
FROM signed_up AS s
LEFT JOIN meaningful AS m USING (user_id);

-- name: insert_stages_range
-- Many days at once, without a (user x day) join: between two meaningful dates of a user,
-- |M| and max(M) are constant, so each such segment (and the one before the first
-- meaningful date) expands into its days directly. Same rows as one day at a time. Rows
-- come out unordered (sorting them doubles the cost); funnel.py runs long ranges in chunks
-- of a week so each week's rows still share row groups (zone maps skip the other weeks).
INSERT INTO users_by_activation_stage (
    day, user_id, stage, signed_up_at, signup_inferred, meaningful_days,
    first_meaningful_day, last_meaningful_day, new_signup, newly_activated, newly_inactive
)
WITH signed_up AS (
    SELECT user_id, signed_up_at, signup_inferred, signup_day
    FROM user_signups
    WHERE signup_day <= $last_day::DATE
),
meaningful AS (
    SELECT
        m.user_id,
        m.day AS mday,
        row_number() OVER w AS n,
        lead(m.day) OVER w AS next_day,
        first_value(m.day) OVER w AS first_day
    FROM user_meaningful_days AS m
    SEMI JOIN signed_up AS s ON s.user_id = m.user_id
    WHERE m.day <= $last_day::DATE
    WINDOW w AS (PARTITION BY m.user_id ORDER BY m.day)
),
segments AS (
    -- [segment_start, segment_end): n meaningful dates so far, the latest being mday
    SELECT
        s.user_id,
        s.signup_day AS segment_start,
        coalesce(f.first_day, $last_day::DATE + 1) AS segment_end,
        0 AS n,
        NULL::DATE AS mday,
        NULL::DATE AS first_day
    FROM signed_up AS s
    LEFT JOIN (SELECT user_id, min(mday) AS first_day FROM meaningful GROUP BY user_id) AS f
        USING (user_id)
    UNION ALL
    SELECT user_id, mday, coalesce(next_day, $last_day::DATE + 1), n, mday, first_day
    FROM meaningful
),
bounded AS (
    SELECT
        g.user_id, g.n, g.mday, g.first_day, s.signed_up_at, s.signup_inferred, s.signup_day,
        greatest(g.segment_start, s.signup_day, $first_day::DATE) AS from_day,
        least(g.segment_end - 1, $last_day::DATE) AS to_day
    FROM segments AS g
    JOIN signed_up AS s USING (user_id)
),
user_days AS (
    SELECT
        CAST(unnest(generate_series(from_day, to_day, INTERVAL 1 DAY)) AS DATE) AS day,
        user_id, n, mday, first_day, signed_up_at, signup_inferred, signup_day
    FROM bounded
    WHERE from_day <= to_day
)
SELECT
    day,
    user_id,
    CASE
        WHEN n = 0 THEN 'signed_up'
        WHEN mday < day - ($w - 1) THEN 'inactive'
        WHEN n = 1 THEN 'activated'
        ELSE 'active'
    END AS stage,
    signed_up_at,
    signup_inferred,
    n::INTEGER AS meaningful_days,
    first_day AS first_meaningful_day,
    mday AS last_meaningful_day,
    signup_day = day AS new_signup,
    coalesce(first_day = day, false) AS newly_activated,
    coalesce(mday = day - $w, false) AS newly_inactive
FROM user_days;

-- name: delete_daily
DELETE FROM funnel_daily WHERE day BETWEEN $first_day AND $last_day;

-- name: insert_daily
-- Always one row per day, zeros included, aggregated from users_by_activation_stage.
INSERT INTO funnel_daily (
    day, new_signups, signed_up, activated, active, inactive, newly_activated, newly_inactive,
    inactive_after_days
)
WITH days AS (
    SELECT CAST(unnest(generate_series($first_day::DATE, $last_day::DATE, INTERVAL 1 DAY)) AS DATE)
        AS day
),
counts AS (
    SELECT
        day,
        count(*) FILTER (WHERE new_signup) AS new_signups,
        count(*) FILTER (WHERE stage = 'signed_up') AS signed_up,
        count(*) FILTER (WHERE stage = 'activated') AS activated,
        count(*) FILTER (WHERE stage = 'active') AS active,
        count(*) FILTER (WHERE stage = 'inactive') AS inactive,
        count(*) FILTER (WHERE newly_activated) AS newly_activated,
        count(*) FILTER (WHERE newly_inactive) AS newly_inactive
    FROM users_by_activation_stage
    WHERE day BETWEEN $first_day AND $last_day
    GROUP BY day
)
SELECT
    d.day,
    coalesce(c.new_signups, 0),
    coalesce(c.signed_up, 0),
    coalesce(c.activated, 0),
    coalesce(c.active, 0),
    coalesce(c.inactive, 0),
    coalesce(c.newly_activated, 0),
    coalesce(c.newly_inactive, 0),
    $w
FROM days AS d
LEFT JOIN counts AS c USING (day)
ORDER BY d.day;

-- name: daily_rows
SELECT
    day, new_signups, signed_up, activated, active, inactive, newly_activated, newly_inactive
FROM funnel_daily
WHERE day BETWEEN $first_day AND $last_day
ORDER BY day;

-- name: stage_counts
SELECT day, stage, count(*) AS users
FROM users_by_activation_stage
WHERE day BETWEEN $first_day AND $last_day
GROUP BY ALL
ORDER BY ALL;

-- name: check_one_stage_per_user
-- Days in range whose stage rows are not exactly the users signed up by that day, once each.
-- Compared per day: the number of rows, and the sum of hash(user_id) over the rows, against
-- the same two figures of user_journeys' sign-ups up to that day (cumulative per sign-up day).
-- A user missing, doubled or not signed up changes the count or the sum (a compensating
-- error would need a 64-bit hash coincidence). Far cheaper than count(DISTINCT ...) over
-- tens of millions of rows.
WITH days AS (
    SELECT CAST(unnest(generate_series($first_day::DATE, $last_day::DATE, INTERVAL 1 DAY)) AS DATE)
        AS day
),
signups AS (
    SELECT
        coalesce(
            signup_day, DATE '1970-01-01' + CAST(floor(epoch(signed_up_at) / 86400) AS INTEGER)
        ) AS signup_day,
        count(*) AS users,
        sum(hash(user_id)) AS user_hashes
    FROM user_journeys
    GROUP BY 1
),
expected AS (
    SELECT
        d.day,
        coalesce(sum(s.users), 0) AS signed_up_users,
        coalesce(sum(s.user_hashes), 0) AS user_hashes
    FROM days AS d
    LEFT JOIN signups AS s ON s.signup_day <= d.day
    GROUP BY d.day
),
actual AS (
    SELECT day, count(*) AS stage_rows, sum(hash(user_id)) AS user_hashes
    FROM users_by_activation_stage
    WHERE day BETWEEN $first_day AND $last_day
    GROUP BY day
)
SELECT
    e.day,
    e.signed_up_users,
    coalesce(a.stage_rows, 0) AS stage_rows
FROM expected AS e
LEFT JOIN actual AS a USING (day)
WHERE coalesce(a.stage_rows, 0) <> e.signed_up_users
    OR coalesce(a.user_hashes, 0) <> e.user_hashes
ORDER BY e.day;

-- name: check_stage_counts_add_up
-- Days where signed_up + activated + active + inactive differs from the signed-up users.
WITH days AS (
    SELECT CAST(unnest(generate_series($first_day::DATE, $last_day::DATE, INTERVAL 1 DAY)) AS DATE)
        AS day
),
signups AS (
    SELECT
        coalesce(
            signup_day, DATE '1970-01-01' + CAST(floor(epoch(signed_up_at) / 86400) AS INTEGER)
        ) AS signup_day,
        count(*) AS users
    FROM user_journeys
    GROUP BY 1
),
expected AS (
    SELECT d.day, coalesce(sum(s.users), 0) AS signed_up_users
    FROM days AS d
    LEFT JOIN signups AS s ON s.signup_day <= d.day
    GROUP BY d.day
)
SELECT
    e.day,
    e.signed_up_users,
    f.signed_up + f.activated + f.active + f.inactive AS stage_total
FROM expected AS e
LEFT JOIN funnel_daily AS f USING (day)
WHERE f.day IS NULL OR f.signed_up + f.activated + f.active + f.inactive <> e.signed_up_users
ORDER BY e.day;

-- name: check_daily_matches_stages
-- Days whose funnel_daily row differs from the aggregation of users_by_activation_stage.
WITH days AS (
    SELECT CAST(unnest(generate_series($first_day::DATE, $last_day::DATE, INTERVAL 1 DAY)) AS DATE)
        AS day
),
aggregated AS (
    SELECT
        d.day,
        count(s.user_id) FILTER (WHERE s.new_signup) AS new_signups,
        count(s.user_id) FILTER (WHERE s.stage = 'signed_up') AS signed_up,
        count(s.user_id) FILTER (WHERE s.stage = 'activated') AS activated,
        count(s.user_id) FILTER (WHERE s.stage = 'active') AS active,
        count(s.user_id) FILTER (WHERE s.stage = 'inactive') AS inactive,
        count(s.user_id) FILTER (WHERE s.newly_activated) AS newly_activated,
        count(s.user_id) FILTER (WHERE s.newly_inactive) AS newly_inactive
    FROM days AS d
    LEFT JOIN users_by_activation_stage AS s ON s.day = d.day
    GROUP BY d.day
),
stored AS (
    SELECT day, new_signups, signed_up, activated, active, inactive, newly_activated,
        newly_inactive
    FROM funnel_daily
    WHERE day BETWEEN $first_day AND $last_day
)
SELECT coalesce(a.day, s.day) AS day
FROM aggregated AS a
FULL OUTER JOIN stored AS s USING (day)
WHERE s.day IS NULL
    OR a.day IS NULL
    OR (a.new_signups, a.signed_up, a.activated, a.active, a.inactive, a.newly_activated,
        a.newly_inactive)
        IS DISTINCT FROM
        (s.new_signups, s.signed_up, s.activated, s.active, s.inactive, s.newly_activated,
        s.newly_inactive)
ORDER BY 1;
