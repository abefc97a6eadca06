-- The stage stream (see streams/stage_lake.py).

-- name: newest_publish
SELECT coalesce(max(publish_id), 0) FROM stage_stream_outbox;

-- name: queue_changes
-- Each (user, day) of the days whose (stage, previous_stage) differs from the last record
-- queued for it, when it is a change or a record was queued for it before (SPEC §10).
INSERT INTO stage_stream_outbox
WITH today AS (
    SELECT day, user_id, stage
    FROM users_by_activation_stage
    WHERE day BETWEEN $first_day AND $last_day
),
yesterday AS (
    SELECT day + 1 AS day, user_id, stage AS previous_stage
    FROM users_by_activation_stage
    WHERE day BETWEEN $first_day - 1 AND $last_day - 1
),
now_ AS (
    SELECT t.user_id, t.day, t.stage, y.previous_stage,
        t.stage IS DISTINCT FROM y.previous_stage AS changed
    FROM today AS t
    LEFT JOIN yesterday AS y USING (day, user_id)
),
queued AS (
    SELECT user_id, day, stage, previous_stage
    FROM stage_stream_outbox
    WHERE day BETWEEN $first_day AND $last_day
    QUALIFY row_number() OVER (PARTITION BY user_id, day ORDER BY publish_id DESC) = 1
)
SELECT $publish_id, n.user_id, n.day, n.stage, n.previous_stage, n.changed, $now
FROM now_ AS n
LEFT JOIN queued AS q USING (user_id, day)
WHERE (q.user_id IS NULL AND n.changed)
    OR (q.user_id IS NOT NULL
        AND (n.stage IS DISTINCT FROM q.stage OR n.previous_stage IS DISTINCT FROM q.previous_stage));

-- name: queued_count
SELECT count(*) FROM stage_stream_outbox WHERE publish_id = $publish_id;

-- name: records
SELECT user_id, day, stage, previous_stage, changed
FROM stage_stream_outbox
WHERE publish_id = $publish_id
ORDER BY user_id, day;

-- name: next_publish
SELECT min(publish_id) FROM stage_stream_outbox WHERE publish_id > $after;
