"""Dagster's floor for a Kafka-triggered Slack post (issue 12), written the stock way.

A tiny code location with one plain sensor: each tick asks Kafka for the end offsets of
BENCH_FLOOR_TOPIC (no long poll) and requests one run per new message; the run is one op that
posts that message's position to the Slack stub. It imports nothing but Dagster, kafka-python
and slack_sdk, so what it measures is the daemon's tick, the run queue, the run worker's start
and one post: what any Dagster pipeline pays to react to a message. `bench_alerts.py` runs it in
the same daemon as the product and compares the two.
"""

import json
import os

import dagster as dg

TOPIC = os.environ.get("BENCH_FLOOR_TOPIC", "bench-floor")


class Message(dg.Config):
    partition: int
    offset: int


@dg.op
def post_to_slack(config: Message) -> None:
    from slack_sdk import WebClient

    client = WebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"], timeout=10
    )
    client.chat_postMessage(
        channel="#bench-floor", text=f"floor `floor-{config.partition}-{config.offset}`"
    )


@dg.job(executor_def=dg.in_process_executor)
def floor_post() -> None:
    post_to_slack()


@dg.sensor(
    job=floor_post, minimum_interval_seconds=2, default_status=dg.DefaultSensorStatus.RUNNING
)
def floor_sensor(context: dg.SensorEvaluationContext):
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        partitions = sorted(consumer.partitions_for_topic(TOPIC) or [])
        ends = consumer.end_offsets([TopicPartition(TOPIC, p) for p in partitions])
    finally:
        consumer.close()
    cursor = {int(p): o for p, o in json.loads(context.cursor or "{}").items()}
    requests = [
        dg.RunRequest(
            run_key=f"{tp.partition}:{offset}",
            run_config={
                "ops": {"post_to_slack": {"config": {"partition": tp.partition, "offset": offset}}}
            },
        )
        for tp, end in ends.items()
        for offset in range(cursor.get(tp.partition, 0), end)
    ]
    cursor.update({tp.partition: end for tp, end in ends.items()})
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))


defs = dg.Definitions(jobs=[floor_post], sensors=[floor_sensor])
