-- The stage stream's outbox (SPEC §10): the stage records a funnel run decided to publish,
-- written in one lake transaction, each run's rows under one publish_id (1, 2, ...). The
-- topic's records name the publish_id they belong to (header analytics-position), so a
-- publisher publishes exactly the rows above the topic's last committed publish_id: a run
-- killed between this commit and Kafka's loses nothing, and repeats nothing. The last row of
-- a (user_id, day) is what was last published for it.
CREATE TABLE IF NOT EXISTS stage_stream_outbox (
    publish_id BIGINT NOT NULL,
    user_id VARCHAR NOT NULL,
    day DATE NOT NULL,
    stage VARCHAR NOT NULL,
    previous_stage VARCHAR,
    changed BOOLEAN NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL
);
