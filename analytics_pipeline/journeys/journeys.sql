-- Incremental journeys step (see derive.py for the order and the transaction).
-- Temp tables _jb_* hold one batch: the raw rows committed in DuckLake snapshots
-- $after < snapshot_id <= $upto (the watermark is a snapshot id: raw writers commit side by
-- side, so batch ids no longer follow commit order, but snapshots do).
-- UTC day of a timestamp: DATE '1970-01-01' + floor(epoch(ts) / 86400) (plain arithmetic,
-- several times faster than a time-zone conversion).
-- Attributed actions live in journey_events_by_user, actions of browsers not linked yet in
-- journey_events_anonymous; a new link moves its browser's rows across (a small delete and
-- append, never an UPDATE of scattered rows, which DuckDB checkpoints slowly).

-- name: watermark
SELECT coalesce(max(value), 0) FROM pipeline_watermarks WHERE name = $name;

-- name: newest_batch
-- The newest snapshot that committed raw rows, as this transaction sees the lake: every
-- snapshot up to it is committed and visible, so (watermark, it] is exactly what is new.
-- Cheap when nothing is new: DuckLake skips every data file of an older snapshot.
SELECT greatest(
    (SELECT max(snapshot_id) FROM raw_clickstream_events WHERE snapshot_id > $after),
    (SELECT max(snapshot_id) FROM raw_backend_events WHERE snapshot_id > $after)
);

-- name: raw_clickstream_rows
-- The batch's rows of one raw table; derive.py unions the tables that hold new batches into
-- _jb_raw (reading a table costs catalog round trips even when none of its rows is new).
-- source_topic is the raw row's Kafka topic (the configured topic for rows stored without it).
SELECT
    'clickstream' AS source,
    coalesce(kafka_topic, $clickstream_topic) AS source_topic,
    event_id,
    type,
    ts,
    anonymous_id,
    user_id,
    NULL::VARCHAR AS method,
    NULL::VARCHAR AS path,
    NULL::INTEGER AS status,
    NULL::VARCHAR AS deployment_status,
    json_object(
        'page_url', page_url,
        'session_id', session_id,
        'element', payload ->> 'element'
    ) AS details,
    ingest_batch_id
FROM raw_clickstream_events
WHERE snapshot_id > $after AND snapshot_id <= $upto;

-- name: raw_backend_rows
SELECT
    'backend' AS source,
    coalesce(kafka_topic, $backend_topic) AS source_topic,
    event_id,
    type,
    ts,
    NULL::VARCHAR AS anonymous_id,
    user_id,
    upper(method) AS method,
    -- same as events.actions.normalise_path: drop ?query / #fragment and a trailing slash
    coalesce(nullif(rtrim(regexp_replace(path, '[?#].*$', ''), '/'), ''), '/') AS path,
    status::INTEGER AS status,
    deployment_status,
    CASE type
        WHEN 'deployment' THEN json_object(
            'deployment_id', deployment_id,
            'deployment_status', deployment_status,
            'error_message', error_message
        )
        ELSE json_object(
            'method', method,
            'path', path,
            'status', status,
            'duration_ms', duration_ms,
            'error_code', error_code,
            'error_message', error_message
        )
    END AS details,
    ingest_batch_id
FROM raw_backend_events
WHERE snapshot_id > $after AND snapshot_id <= $upto;

-- name: batch_ids
-- The batches of this step: journey rows of any other batch were stored by an earlier step.
CREATE OR REPLACE TEMP TABLE _jb_batches AS SELECT DISTINCT ingest_batch_id FROM _jb_raw;

-- name: batch_links
-- The earliest linking event per anonymous_id in this batch.
CREATE OR REPLACE TEMP TABLE _jb_links AS
SELECT
    anonymous_id,
    arg_min(user_id, (ts, event_id)) AS user_id,
    min(ts) AS linked_at,
    arg_min(event_id, (ts, event_id)) AS link_event_id
FROM _jb_raw
WHERE source = 'clickstream' AND user_id IS NOT NULL
GROUP BY anonymous_id;

-- name: identity_changes
-- Links that are new, or earlier than the stored one (a late link): these win.
CREATE OR REPLACE TEMP TABLE _jb_identity_changes AS
SELECT
    l.anonymous_id,
    l.user_id AS new_user_id,
    l.linked_at,
    l.link_event_id,
    i.user_id AS old_user_id
FROM _jb_links AS l
LEFT JOIN user_identities AS i USING (anonymous_id)
WHERE i.anonymous_id IS NULL
    OR l.linked_at < i.linked_at
    OR (l.linked_at = i.linked_at AND l.link_event_id < i.link_event_id);

-- name: no_identity_changes
-- (No clickstream row of the batch links a browser: nothing to read in user_identities.)
CREATE OR REPLACE TEMP TABLE _jb_identity_changes (
    anonymous_id VARCHAR, new_user_id VARCHAR, linked_at TIMESTAMPTZ, link_event_id VARCHAR,
    old_user_id VARCHAR
);

-- name: upsert_identities
MERGE INTO user_identities AS i
USING _jb_identity_changes AS c ON i.anonymous_id = c.anonymous_id
WHEN MATCHED THEN UPDATE SET
    user_id = c.new_user_id, linked_at = c.linked_at, link_event_id = c.link_event_id
WHEN NOT MATCHED THEN INSERT (anonymous_id, user_id, linked_at, link_event_id)
    VALUES (c.anonymous_id, c.new_user_id, c.linked_at, c.link_event_id);

-- name: batch_events
-- The batch's actions, attributed: own user_id first, else the (now updated) identity link.
CREATE OR REPLACE TEMP TABLE _jb_events AS
SELECT
    c.source_topic,
    c.event_id,
    coalesce(c.user_id, i.user_id) AS user_id,
    c.anonymous_id,
    c.ts,
    c.action,
    c.details,
    c.ingest_batch_id,
    (c.user_id IS NULL AND i.user_id IS NOT NULL) AS user_via_identity
-- (One equality on an expression: DuckDB 1.5 plans the same condition written as
-- "c.user_id IS NULL AND i.anonymous_id = c.anonymous_id" as a nested-loop join.)
FROM _jb_classified AS c
LEFT JOIN user_identities AS i
    ON i.anonymous_id = CASE WHEN c.user_id IS NULL THEN c.anonymous_id END
WHERE c.action IS NOT NULL;

-- name: insert_events_by_user
INSERT INTO journey_events_by_user (
    source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id,
    user_via_identity
)
SELECT
    source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id,
    user_via_identity
FROM _jb_events
WHERE user_id IS NOT NULL;

-- name: insert_events_anonymous
INSERT INTO journey_events_anonymous (
    source_topic, event_id, anonymous_id, ts, action, details, ingest_batch_id
)
SELECT source_topic, event_id, anonymous_id, ts, action, details, ingest_batch_id
FROM _jb_events
WHERE user_id IS NULL;

-- name: reattributed
-- Stored events of earlier batches that change user with this batch's links: events of a
-- browser linked for the first time (they wait in journey_events_anonymous, a small table:
-- only browsers never linked so far).
CREATE OR REPLACE TEMP TABLE _jb_reattributed AS
SELECT
    a.source_topic, a.event_id, a.anonymous_id, a.ts, a.action, a.details, a.ingest_batch_id,
    NULL::VARCHAR AS old_user_id, c.new_user_id
FROM journey_events_anonymous AS a
JOIN _jb_identity_changes AS c ON a.anonymous_id = c.anonymous_id
WHERE a.ingest_batch_id NOT IN (SELECT ingest_batch_id FROM _jb_batches);

-- name: no_reattributed
-- (No identity changed: no stored event changes user.)
CREATE OR REPLACE TEMP TABLE _jb_reattributed (
    source_topic VARCHAR, event_id VARCHAR, anonymous_id VARCHAR, ts TIMESTAMPTZ,
    action VARCHAR, details JSON, ingest_batch_id BIGINT, old_user_id VARCHAR,
    new_user_id VARCHAR
);

-- name: relinked
-- How many links of this batch replace an existing link to another user (rare).
SELECT count(*) FROM _jb_identity_changes
WHERE old_user_id IS NOT NULL AND old_user_id <> new_user_id;

-- name: reattributed_relinked
-- ... and events of browsers re-linked to another user by an earlier link that came late
-- (only when `relinked` found some: this reads the anonymous_id of every attributed event).
INSERT INTO _jb_reattributed
SELECT
    j.source_topic, j.event_id, j.anonymous_id, j.ts, j.action, j.details, j.ingest_batch_id,
    c.old_user_id, c.new_user_id
FROM journey_events_by_user AS j
JOIN _jb_identity_changes AS c ON j.anonymous_id = c.anonymous_id
WHERE j.user_via_identity AND j.ingest_batch_id NOT IN (SELECT ingest_batch_id FROM _jb_batches)
    AND c.old_user_id IS NOT NULL AND c.old_user_id <> c.new_user_id;

-- name: unlink_relinked
DELETE FROM journey_events_by_user
WHERE user_via_identity AND ingest_batch_id NOT IN (SELECT ingest_batch_id FROM _jb_batches)
    AND anonymous_id IN (
        SELECT anonymous_id FROM _jb_identity_changes
        WHERE old_user_id IS NOT NULL AND old_user_id <> new_user_id
    );

-- name: take_linked_from_anonymous
DELETE FROM journey_events_anonymous
WHERE anonymous_id IN (SELECT anonymous_id FROM _jb_identity_changes);

-- name: insert_reattributed
INSERT INTO journey_events_by_user (
    source_topic, event_id, user_id, anonymous_id, ts, action, details, ingest_batch_id,
    user_via_identity
)
SELECT
    source_topic, event_id, new_user_id, anonymous_id, ts, action, details, ingest_batch_id,
    true
FROM _jb_reattributed;

-- name: touched_users
-- Users who gained actions (new or re-attributed to them) and users who lost some; the
-- latter ("lost") are rebuilt from their remaining actions, the others merged incrementally.
CREATE OR REPLACE TEMP TABLE _jb_touched AS
SELECT user_id, bool_or(lost) AS lost
FROM (
    SELECT user_id, false AS lost FROM _jb_events WHERE user_id IS NOT NULL
    UNION ALL
    SELECT new_user_id, false FROM _jb_reattributed
    UNION ALL
    SELECT old_user_id, true FROM _jb_reattributed WHERE old_user_id IS NOT NULL
)
GROUP BY user_id;

-- name: gained_actions
-- Every action a touched user gained in this batch (for "lost" users: see below).
CREATE OR REPLACE TEMP TABLE _jb_gained AS
SELECT e.user_id, e.ts, e.action
FROM _jb_events AS e
JOIN _jb_touched AS t ON t.user_id = e.user_id AND NOT t.lost
UNION ALL
SELECT r.new_user_id, r.ts, r.action
FROM _jb_reattributed AS r
JOIN _jb_touched AS t ON t.user_id = r.new_user_id AND NOT t.lost;

-- name: lost_users
SELECT count(*) FROM _jb_touched WHERE lost;

-- name: gained_actions_of_lost_users
-- "Lost" users are rebuilt: all their remaining actions count as gained. (Rare: run only
-- when some late link moved events away from a user; it reads every attributed event.)
INSERT INTO _jb_gained
SELECT j.user_id, j.ts, j.action
FROM journey_events_by_user AS j
WHERE j.user_id IN (SELECT user_id FROM _jb_touched WHERE lost);

-- name: old_journeys
CREATE OR REPLACE TEMP TABLE _jb_old_journeys AS
SELECT u.*
FROM user_journeys AS u
WHERE u.user_id IN (SELECT user_id FROM _jb_touched);

-- name: no_lost_meaningful_days
CREATE OR REPLACE TEMP TABLE _jb_old_lost_days (user_id VARCHAR, day DATE);

-- name: old_lost_meaningful_days
CREATE OR REPLACE TEMP TABLE _jb_old_lost_days AS
SELECT m.user_id, m.day
FROM user_meaningful_days AS m
WHERE m.user_id IN (SELECT user_id FROM _jb_touched WHERE lost);

-- name: delete_lost_meaningful_days
DELETE FROM user_meaningful_days
WHERE user_id IN (SELECT user_id FROM _jb_touched WHERE lost);

-- name: candidate_days
-- How many meaningful actions the touched users gained (none: no day to look up).
SELECT count(*) FROM _jb_gained WHERE list_contains($meaningful, action);

-- name: no_new_meaningful_days
CREATE OR REPLACE TEMP TABLE _jb_new_days (user_id VARCHAR, day DATE);

-- name: new_meaningful_days
-- (user, UTC day) pairs of meaningful actions not stored yet; lost users' rows were deleted
-- above, so their gained actions (= all their actions) rebuild them.
-- (The stored pairs are found by probing the big table against the few candidates, so no
-- hash table of the big table is built.)
CREATE OR REPLACE TEMP TABLE _jb_new_days AS
WITH candidates AS (
    SELECT DISTINCT user_id, DATE '1970-01-01' + CAST(floor(epoch(ts) / 86400) AS INTEGER) AS day
    FROM _jb_gained
    WHERE list_contains($meaningful, action)
),
stored AS (
    SELECT m.user_id, m.day
    FROM user_meaningful_days AS m
    SEMI JOIN candidates AS c ON c.user_id = m.user_id AND c.day = m.day
)
SELECT c.user_id, c.day
FROM candidates AS c
ANTI JOIN stored AS s ON s.user_id = c.user_id AND s.day = c.day;

-- name: insert_meaningful_days
INSERT INTO user_meaningful_days (user_id, day)
SELECT user_id, day FROM _jb_new_days ORDER BY user_id, day;

-- name: lost_day_counts
-- Lost users' meaningful days, as rebuilt above (deleted, then inserted from all their actions).
CREATE OR REPLACE TEMP TABLE _jb_lost_day_counts AS
SELECT m.user_id, count(*) AS meaningful_days
FROM user_meaningful_days AS m
SEMI JOIN (SELECT user_id FROM _jb_touched WHERE lost) AS t ON t.user_id = m.user_id
GROUP BY m.user_id;

-- name: no_lost_day_counts
CREATE OR REPLACE TEMP TABLE _jb_lost_day_counts (user_id VARCHAR, meaningful_days BIGINT);

-- name: old_journeys_count
SELECT count(*) FROM _jb_old_journeys;

-- name: new_journeys
CREATE OR REPLACE TEMP TABLE _jb_new_journeys AS
WITH gained AS (
    SELECT
        user_id,
        min(ts) FILTER (WHERE action = 'signed_up') AS explicit_signup_at,
        min(ts) AS first_seen_at,
        max(ts) AS last_seen_at,
        min(ts) FILTER (WHERE list_contains($meaningful, action)) AS first_meaningful_at,
        max(ts) FILTER (WHERE list_contains($meaningful, action)) AS last_meaningful_at,
        count(*) AS actions
    FROM _jb_gained
    GROUP BY user_id
),
days AS (
    -- lost users: all their (rebuilt) days; others: the days this batch added
    SELECT user_id, meaningful_days FROM _jb_lost_day_counts
    UNION ALL
    SELECT n.user_id, count(*)
    FROM _jb_new_days AS n
    SEMI JOIN (SELECT user_id FROM _jb_touched WHERE NOT lost) AS t ON t.user_id = n.user_id
    GROUP BY n.user_id
),
merged AS (
    -- for lost users, o is ignored: gained already holds all their actions
    SELECT
        g.user_id,
        CASE WHEN t.lost THEN g.explicit_signup_at ELSE least(
            g.explicit_signup_at, CASE WHEN NOT o.signup_inferred THEN o.signed_up_at END
        ) END AS explicit_signup_at,
        CASE WHEN t.lost THEN g.first_seen_at
            ELSE least(g.first_seen_at, o.first_seen_at) END AS first_seen_at,
        CASE WHEN t.lost THEN g.last_seen_at
            ELSE greatest(g.last_seen_at, o.last_seen_at) END AS last_seen_at,
        CASE WHEN t.lost THEN g.first_meaningful_at
            ELSE least(g.first_meaningful_at, o.first_meaningful_at) END AS first_meaningful_at,
        CASE WHEN t.lost THEN g.last_meaningful_at
            ELSE greatest(g.last_meaningful_at, o.last_meaningful_at) END AS last_meaningful_at,
        CASE WHEN t.lost THEN g.actions
            ELSE g.actions + coalesce(o.actions, 0) END AS actions,
        CASE WHEN t.lost THEN 0 ELSE coalesce(o.meaningful_days, 0) END AS old_days
    FROM gained AS g
    JOIN _jb_touched AS t USING (user_id)
    LEFT JOIN _jb_old_journeys AS o USING (user_id)
)
SELECT
    m.user_id,
    coalesce(m.explicit_signup_at, m.first_seen_at) AS signed_up_at,
    m.explicit_signup_at IS NULL AS signup_inferred,
    m.first_meaningful_at,
    m.last_meaningful_at,
    (m.old_days + coalesce(d.meaningful_days, 0))::INTEGER AS meaningful_days,
    m.last_seen_at,
    m.first_seen_at,
    m.actions::INTEGER AS actions,
    DATE '1970-01-01'
        + CAST(floor(epoch(coalesce(m.explicit_signup_at, m.first_seen_at)) / 86400) AS INTEGER)
        AS signup_day
FROM merged AS m
LEFT JOIN days AS d USING (user_id);

-- name: delete_emptied_journeys
-- Users who lost every action to a late, earlier link of someone else.
DELETE FROM user_journeys
WHERE user_id IN (
    SELECT t.user_id FROM _jb_touched AS t
    ANTI JOIN _jb_new_journeys AS n ON n.user_id = t.user_id
    WHERE t.lost
);

-- name: update_changed_journeys
-- Existing users are updated in place, only the rows where some column changed, in one
-- statement: the lake rewrites a changed row whole, whichever of its columns changed.
UPDATE user_journeys
SET
    signed_up_at = n.signed_up_at,
    signup_inferred = n.signup_inferred,
    first_meaningful_at = n.first_meaningful_at,
    last_meaningful_at = n.last_meaningful_at,
    meaningful_days = n.meaningful_days,
    last_seen_at = n.last_seen_at,
    first_seen_at = n.first_seen_at,
    actions = n.actions,
    signup_day = n.signup_day
FROM _jb_new_journeys AS n
JOIN _jb_old_journeys AS o ON o.user_id = n.user_id
WHERE user_journeys.user_id = n.user_id
    AND (
        n.signed_up_at IS DISTINCT FROM o.signed_up_at
        OR n.signup_inferred IS DISTINCT FROM o.signup_inferred
        OR n.first_meaningful_at IS DISTINCT FROM o.first_meaningful_at
        OR n.last_meaningful_at IS DISTINCT FROM o.last_meaningful_at
        OR n.meaningful_days IS DISTINCT FROM o.meaningful_days
        OR n.last_seen_at IS DISTINCT FROM o.last_seen_at
        OR n.first_seen_at IS DISTINCT FROM o.first_seen_at
        OR n.actions IS DISTINCT FROM o.actions
        OR n.signup_day IS DISTINCT FROM o.signup_day
    );

-- name: insert_journeys
INSERT INTO user_journeys (
    user_id, signed_up_at, signup_inferred, first_meaningful_at, last_meaningful_at,
    meaningful_days, last_seen_at, first_seen_at, actions, signup_day
)
SELECT
    n.user_id, n.signed_up_at, n.signup_inferred, n.first_meaningful_at,
    n.last_meaningful_at, n.meaningful_days, n.last_seen_at, n.first_seen_at, n.actions,
    n.signup_day
FROM _jb_new_journeys AS n
ANTI JOIN _jb_old_journeys AS o ON o.user_id = n.user_id;

-- name: summary
-- What changed, for the run's metadata and for the funnel's staleness: the funnel of day D
-- depends only on sign-up times and meaningful days up to D, so the earliest day whose
-- funnel changed is the minimum over changed sign-ups (old and new day) and meaningful days
-- added or removed.
WITH signup_changes AS (
    SELECT n.signup_day AS new_day, o.signup_day AS old_day
    FROM _jb_new_journeys AS n
    FULL OUTER JOIN _jb_old_journeys AS o USING (user_id)
    WHERE n.signed_up_at IS DISTINCT FROM o.signed_up_at
        OR n.signup_inferred IS DISTINCT FROM o.signup_inferred
),
delta_days AS (
    SELECT DISTINCT DATE '1970-01-01' + CAST(floor(epoch(ts) / 86400) AS INTEGER) AS day
    FROM (
        SELECT ts FROM _jb_events WHERE user_id IS NOT NULL
        UNION ALL
        SELECT ts FROM _jb_reattributed
    )
),
funnel_days AS (
    SELECT least(new_day, old_day) AS day FROM signup_changes
    UNION ALL
    SELECT day FROM _jb_new_days
    UNION ALL
    SELECT day FROM _jb_old_lost_days
)
SELECT
    (SELECT count(*) FROM _jb_raw) AS raw_rows_read,
    (SELECT count(*) FROM _jb_events) AS rows_added,
    (SELECT count(*) FROM _jb_events WHERE user_id IS NULL) AS anonymous_rows_added,
    (SELECT count(*) FROM _jb_identity_changes) AS identities_linked,
    (SELECT count(*) FROM _jb_reattributed) AS reattributed,
    (SELECT count(*) FROM _jb_touched) AS users_touched,
    (SELECT count(*) FROM _jb_touched WHERE lost) AS users_rebuilt,
    (SELECT count(*) FROM signup_changes WHERE new_day IS NOT NULL AND old_day IS NULL)
        AS new_users,
    (SELECT list(day ORDER BY day) FROM delta_days) AS event_days,
    (SELECT min(day) FROM funnel_days) AS earliest_funnel_day;

-- name: set_watermark
MERGE INTO pipeline_watermarks AS w
USING (SELECT $name AS name, $upto::BIGINT AS value, $now::TIMESTAMPTZ AS updated_at) AS n
ON w.name = n.name
WHEN MATCHED THEN UPDATE SET value = n.value, updated_at = n.updated_at
WHEN NOT MATCHED THEN INSERT (name, value, updated_at) VALUES (n.name, n.value, n.updated_at);

-- name: drop_batch
DROP TABLE IF EXISTS _jb_raw;
DROP TABLE IF EXISTS _jb_batches;
DROP TABLE IF EXISTS _jb_classified;
DROP TABLE IF EXISTS _jb_links;
DROP TABLE IF EXISTS _jb_identity_changes;
DROP TABLE IF EXISTS _jb_events;
DROP TABLE IF EXISTS _jb_reattributed;
DROP TABLE IF EXISTS _jb_touched;
DROP TABLE IF EXISTS _jb_gained;
DROP TABLE IF EXISTS _jb_old_journeys;
DROP TABLE IF EXISTS _jb_old_lost_days;
DROP TABLE IF EXISTS _jb_new_days;
DROP TABLE IF EXISTS _jb_new_journeys;
DROP TABLE IF EXISTS _jb_lost_day_counts;

-- name: events_without_raw_event
-- Journey events committed after raw snapshot $after (by the steps since; 0: all of them):
-- how many have no raw row (same topic, event_id and batch) and how many keys (source_topic,
-- event_id) occur more than once. Every journey event must point at exactly one stored raw
-- event. The raw rows are looked up by the batches of the events checked.
WITH checked AS (
    SELECT source_topic, event_id, ingest_batch_id
    FROM journey_events_by_user
    WHERE snapshot_id > $after
    UNION ALL
    SELECT source_topic, event_id, ingest_batch_id
    FROM journey_events_anonymous
    WHERE snapshot_id > $after
),
raw AS (
    SELECT coalesce(kafka_topic, $clickstream_topic) AS source_topic, event_id, ingest_batch_id
    FROM raw_clickstream_events
    WHERE ingest_batch_id IN (SELECT ingest_batch_id FROM checked)
    UNION ALL
    SELECT coalesce(kafka_topic, $backend_topic), event_id, ingest_batch_id
    FROM raw_backend_events
    WHERE ingest_batch_id IN (SELECT ingest_batch_id FROM checked)
),
keys AS (
    SELECT source_topic, event_id, count(*) AS copies FROM checked GROUP BY ALL
)
SELECT
    (SELECT count(*) FROM checked) AS checked,
    count(*) FILTER (WHERE r.event_id IS NULL) AS dangling,
    coalesce(list(k.event_id ORDER BY k.event_id) FILTER (WHERE r.event_id IS NULL), [])[1:10]
        AS examples,
    count(*) FILTER (WHERE k.copies > 1) AS duplicated
FROM keys AS k
LEFT JOIN (SELECT DISTINCT source_topic, event_id FROM raw) AS r USING (source_topic, event_id);

-- name: clear_all
DELETE FROM user_meaningful_days;
DELETE FROM user_journeys;
DELETE FROM journey_events_by_user;
DELETE FROM journey_events_anonymous;
DELETE FROM user_identities;

-- name: clear_watermark
DELETE FROM pipeline_watermarks WHERE name = $name;
