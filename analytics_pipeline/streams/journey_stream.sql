-- What the journey stream publishes for the raw rows the journeys step took from DuckLake
-- snapshots $after < snapshot_id <= $upto (the journeys watermark is a snapshot id: see
-- streams/journey_lake.py). Read in one transaction: one snapshot of the lake.

-- name: journeys_watermark
SELECT coalesce(max(value), 0) FROM pipeline_watermarks WHERE name = 'journeys_snapshot';

-- name: range_batches
-- The raw batches committed in snapshots ($after, $upto] (a batch commits in one snapshot):
-- the journey rows of these batches are the ones not published yet, wherever a late link
-- moved them since (a row keeps its batch id).
CREATE OR REPLACE TEMP TABLE _js_batches AS
SELECT DISTINCT snapshot_id, ingest_batch_id
FROM raw_clickstream_events
WHERE snapshot_id > $after AND snapshot_id <= $upto
UNION
SELECT DISTINCT snapshot_id, ingest_batch_id
FROM raw_backend_events
WHERE snapshot_id > $after AND snapshot_id <= $upto;

-- name: batch_sizes
-- Actions per raw snapshot above $after, to cut a long catch-up into bounded publishes.
SELECT b.snapshot_id, count(*) AS actions
FROM journey_events AS j
JOIN _js_batches AS b USING (ingest_batch_id)
GROUP BY b.snapshot_id
ORDER BY b.snapshot_id;

-- name: drop_range_batches
DROP TABLE IF EXISTS _js_batches;

-- name: actions
-- The actions of the range, with their current attribution and the raw event's coordinates.
WITH raw AS (
    SELECT coalesce(kafka_topic, $clickstream_topic) AS source_topic, event_id,
        kafka_partition, kafka_offset
    FROM raw_clickstream_events
    WHERE snapshot_id > $after AND snapshot_id <= $upto
    UNION ALL
    SELECT coalesce(kafka_topic, $backend_topic), event_id, kafka_partition, kafka_offset
    FROM raw_backend_events
    WHERE snapshot_id > $after AND snapshot_id <= $upto
)
SELECT
    j.source_topic, j.event_id, j.user_id, j.anonymous_id, j.ts, j.action,
    CAST(j.details AS VARCHAR) AS details, j.user_via_identity,
    r.kafka_partition, r.kafka_offset
FROM journey_events AS j
LEFT JOIN raw AS r ON r.source_topic = j.source_topic AND r.event_id = j.event_id
WHERE j.ingest_batch_id IN (SELECT ingest_batch_id FROM _js_batches WHERE snapshot_id <= $upto);

-- name: identity_changes
-- Links whose linking event is in the range: each one is new, or replaced a later link
-- (the earliest link wins, so a link made before $after is unchanged). previous_user_id:
-- the link as of $after, from the raw rows journeys had processed by then.
WITH range_links AS (
    SELECT anonymous_id, event_id
    FROM raw_clickstream_events
    WHERE snapshot_id > $after AND snapshot_id <= $upto AND user_id IS NOT NULL
),
changed AS (
    SELECT i.anonymous_id, i.user_id, i.linked_at, i.link_event_id
    FROM user_identities AS i
    SEMI JOIN range_links AS l
        ON l.anonymous_id = i.anonymous_id AND l.event_id = i.link_event_id
),
previous AS (
    SELECT anonymous_id, arg_min(user_id, (ts, event_id)) AS previous_user_id
    FROM raw_clickstream_events
    WHERE $after > 0 AND snapshot_id <= $after AND user_id IS NOT NULL
        AND anonymous_id IN (SELECT anonymous_id FROM changed)
    GROUP BY anonymous_id
)
SELECT c.anonymous_id, c.user_id, p.previous_user_id, c.linked_at, c.link_event_id
FROM changed AS c
LEFT JOIN previous AS p USING (anonymous_id)
ORDER BY c.linked_at, c.link_event_id;

-- name: published_max_ts_users
-- Per user, the latest ts of the actions of earlier publishes now attributed to the user
-- (journey rows of batches at or below $after: not of a batch above it, all in _js_batches).
SELECT user_id, max(ts)
FROM journey_events_by_user
WHERE ingest_batch_id NOT IN (SELECT ingest_batch_id FROM _js_batches)
    AND list_contains($users, user_id)
GROUP BY user_id;

-- name: published_max_ts_browsers
SELECT anonymous_id, max(ts)
FROM journey_events_anonymous
WHERE ingest_batch_id NOT IN (SELECT ingest_batch_id FROM _js_batches)
    AND list_contains($browsers, anonymous_id)
GROUP BY anonymous_id;

-- name: replay_actions
-- A replay (streams/replay.py): the actions with $start <= ts < $end (NULL: unbounded) and, when
-- $user_id is set, of that user (now attributed to them), with their current attribution.
WITH picked AS (
    SELECT *
    FROM journey_events
    WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
        AND ($user_id IS NULL OR user_id = $user_id)
),
raw AS (
    SELECT coalesce(kafka_topic, $clickstream_topic) AS source_topic, event_id,
        kafka_partition, kafka_offset
    FROM raw_clickstream_events
    WHERE event_id IN (SELECT event_id FROM picked)
    UNION ALL
    SELECT coalesce(kafka_topic, $backend_topic), event_id, kafka_partition, kafka_offset
    FROM raw_backend_events
    WHERE event_id IN (SELECT event_id FROM picked)
)
SELECT
    j.source_topic, j.event_id, j.user_id, j.anonymous_id, j.ts, j.action,
    CAST(j.details AS VARCHAR) AS details, j.user_via_identity,
    r.kafka_partition, r.kafka_offset
FROM picked AS j
LEFT JOIN raw AS r ON r.source_topic = j.source_topic AND r.event_id = j.event_id;

-- name: replay_identities
-- The links a replay carries: those of the replayed user, else those made in the range.
SELECT anonymous_id, user_id, NULL AS previous_user_id, linked_at, link_event_id
FROM user_identities
WHERE CASE
    WHEN $user_id IS NOT NULL THEN user_id = $user_id
    ELSE ($start IS NULL OR linked_at >= $start) AND ($end IS NULL OR linked_at < $end)
END
ORDER BY linked_at, link_event_id;
