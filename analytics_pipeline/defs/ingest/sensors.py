"""The ingest sensor: asks Kafka for end offsets only, and requests one bounded run at a time.

One sensor watches both topics, so each tick queues at most one run, covering whichever topics
have new messages: a backend event (sign-ups, deployments: what alerts) never waits behind a
separate clickstream run in the `ingest` pool (one ingest writer at a time: every ingest
transaction moves the same batch counter, so concurrent ones would only conflict and retry).

One tick also checks what Kafka alone can tell (the sensor never opens the lake):

- **Ranges no run stored.** The cursor moves to the end offsets when a run is requested; if
  that run fails for good, nothing would read its range again until new traffic arrived. The
  runs commit the consumer group `analytics-pipeline` after each stored batch, so when no ingest
  run is queued, running or waiting for its retry, a committed offset below the cursor is a
  range no run stored: it is requested again (with back-off between repeats).
- **A topic recreated or reset** (an end offset below the cursor) is logged and followed: the
  partition is requested again from its start, and the run rewinds the lake's ledger to match.
- **A missing topic** is an error naming the topic and its variable, not "no new messages".
- **A live run** (an ingest run in its live tail, ingest/live.py) takes whatever lands on both
  topics until its `analytics/live_until` tag: no run is planned for it meanwhile. Within
  HANDOFF_S of that time the next run is planned, so it is queued when the live run ends.
  The cursor then follows what the runs committed (the consumer group's offsets), so a range a
  live run took is not requested again.

Run keys carry an epoch (`~e<n>`) once a range was requested again, so a range that repeats an
earlier one is not mistaken by Dagster for a run it launched already.

With ANALYTICS_INGEST_WRITERS=N > 1 (defs/ingest/writers.py) each writer's partitions are
planned on their own: runs of the raw tables alone, tagged with their writer, and a writer
whose run is still queued has its new messages left for the next tick while the others are
planned, so a slow partition holds up its own writer only. Those runs have no live tail (it
would write journeys and alerts from several runs at once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from analytics_pipeline.defs.ingest.live import LIVE_UNTIL_TAG
from analytics_pipeline.defs.ingest.writers import (
    WRITER_TAG,
    queued_writers,
    writer_ends,
    writer_of,
)
from analytics_pipeline.ingest.ranges import OffsetRange, plan_topic_runs, topics_run_key
from analytics_pipeline.resources.kafka import KafkaResource

# The tick wait is part of every alert's latency (issue 4). dagster-daemon evaluates sensors
# once per 5 s pass (MIN_INTERVAL_LOOP_TIME), so 2 s means: on every pass. A tick costs one
# end-offsets request for both topics, and when no ingest run is in flight one committed-offset
# look-up per partition.
SENSOR_INTERVAL_SECONDS = 2
# The long poll (issue 12): with nothing new, an evaluation keeps asking Kafka for the end
# offsets every POLL_INTERVAL_S and returns as soon as one moves, so a message waits ~0.1 s for
# its tick instead of up to a whole 5 s pass. The wait ends DAEMON_PASS_MARGIN_S before a
# daemon pass boundary, so the next evaluation starts at that pass instead of ~2.5 s later.
# It is what an idle pipeline spends most on (one ListOffsets request per poll), and it only
# serves the first message after a quiet spell of ANALYTICS_INGEST_LIVE_IDLE_SECONDS (a live
# run takes the rest; at a sign-up every 1-5 s the tail never idles out): 0.5 s, not 0.1.
DAEMON_PASS_S = 5
DAEMON_PASS_MARGIN_S = 1.0
POLL_INTERVAL_S = 0.5
SENSOR_NAME = "ingest_sensor"
INGEST_TAG = "analytics/ingest"
TOPICS_TAG = "analytics/topics"
KINDS = ("backend", "clickstream")  # planning order: alerting events first in a backlog
TOPIC_VARIABLES = {
    "backend": "ANALYTICS_BACKEND_TOPIC",
    "clickstream": "ANALYTICS_CLICKSTREAM_TOPIC",
}
# Run monitoring fails a run that is still STARTED after this long, so a run whose worker died
# with its code server (nothing left to report it) frees the `ingest` pool instead of holding
# it forever; a normal ingest run, backlog included, takes seconds to a few minutes.
MAX_RUNTIME_TAG = "dagster/max_runtime"
INGEST_MAX_RUNTIME_S = 900
# A live run's successor is planned this long before the live run's tail ends: two daemon
# passes, so it is queued (and starts within the queue's 1 s dequeue) when the live run ends.
HANDOFF_S = 11
# The cursor's own state sits under a key no Kafka topic can have ("~" is not allowed in names).
STATE_KEY = "~state"
# Wait before the n-th repeated request of ranges no run stored (the first goes at once): a
# range that keeps failing (say a poison message that kills the worker) is retried ever more
# slowly instead of in a tight loop, and never given up.
REFILL_BACKOFF_S = (0, 30, 60, 120, 300, 600)
IN_FLIGHT = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
# Set on a failed run once Dagster has decided whether to retry it. A run's FAILURE status is
# stored a moment before this tag, so a failed run without it may still get its retry.
WILL_RETRY_TAG = "dagster/will_retry"


@dataclass
class SensorState:
    """The cursor: next offset to request per topic and partition, plus re-request state."""

    offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    epoch: int = 0  # bumped whenever ranges are requested again; part of the run keys
    refills: int = 0  # repeated requests since the committed offsets last caught up
    next_refill_at: float = 0.0

    @classmethod
    def load(cls, raw: str | None) -> SensorState:
        data = json.loads(raw) if raw else {}
        extra = data.pop(STATE_KEY, {})
        return cls(
            offsets={
                topic: {int(p): int(o) for p, o in partitions.items()}
                for topic, partitions in data.items()
            },
            epoch=int(extra.get("epoch", 0)),
            refills=int(extra.get("refills", 0)),
            next_refill_at=float(extra.get("next_refill_at", 0.0)),
        )

    def dump(self) -> str:
        data: dict[str, object] = {
            topic: {str(p): o for p, o in sorted(offsets.items())}
            for topic, offsets in self.offsets.items()
        }
        if self.epoch or self.refills:
            data[STATE_KEY] = {
                "epoch": self.epoch,
                "refills": self.refills,
                "next_refill_at": self.next_refill_at,
            }
        return json.dumps(data, sort_keys=True)


def load_cursor(raw: str | None) -> dict[str, dict[int, int]]:
    """Cursor offsets: {topic: {partition: next_offset}}."""
    return SensorState.load(raw).offsets


def dump_cursor(cursor: Mapping[str, Mapping[int, int]]) -> str:
    return SensorState(offsets={t: dict(o) for t, o in cursor.items()}).dump()


def advance_cursor(
    cursor: Mapping[str, Mapping[int, int]], ends: Mapping[str, Mapping[int, int]]
) -> dict[str, dict[int, int]]:
    """The cursor of the topics in `ends`: each partition moves to its end offset, never back."""
    advanced = {}
    for topic, topic_ends in ends.items():
        offsets = advanced[topic] = dict(cursor.get(topic, {}))
        for partition, end in topic_ends.items():
            offsets[partition] = max(offsets.get(partition, 0), end)
    return advanced


def topic_resets(
    cursor: Mapping[str, Mapping[int, int]], ends: Mapping[str, Mapping[int, int]]
) -> list[tuple[str, int, int, int]]:
    """(topic, partition, cursor, end) of partitions whose end offset fell below the cursor."""
    return [
        (topic, p, cursor[topic][p], end)
        for topic, topic_ends in ends.items()
        for p, end in sorted(topic_ends.items())
        if end < cursor.get(topic, {}).get(p, 0)
    ]


def unstored_ranges(
    cursor: Mapping[str, Mapping[int, int]],
    committed: Mapping[str, Mapping[int, int]],
    ends: Mapping[str, Mapping[int, int]],
) -> dict[str, dict[int, int]]:
    """{topic: {partition: committed}} where the runs' commits stay below the cursor."""
    gaps: dict[str, dict[int, int]] = {}
    for topic, topic_ends in ends.items():
        for p, end in topic_ends.items():
            requested = min(cursor.get(topic, {}).get(p, 0), end)
            stored = min(committed.get(topic, {}).get(p, 0), end)
            if stored < requested:
                gaps.setdefault(topic, {})[p] = stored
    return gaps


def ends_moved(
    ends: Mapping[str, Mapping[int, int]], offsets: Mapping[str, Mapping[int, int]]
) -> bool:
    """Some partition's end offset differs from the cursor: new messages, a reset, a topic."""
    return any(
        end != offsets.get(topic, {}).get(p, 0)
        for topic, topic_ends in ends.items()
        for p, end in topic_ends.items()
    )


def long_poll_deadline(started: float, wait_seconds: float) -> float:
    """When a long poll begun at `started` gives up: just before the last daemon pass that
    `wait_seconds` reaches (`started` itself when the wait is shorter than one pass)."""
    passes = int(wait_seconds // DAEMON_PASS_S)
    return started + passes * DAEMON_PASS_S - DAEMON_PASS_MARGIN_S if passes else started


def ranges_config(ranges: Sequence[OffsetRange]) -> dict:
    return {"ranges": [{"partition": r.partition, "start": r.start, "end": r.end} for r in ranges]}


def live_config(kafka: KafkaResource) -> dict:
    """The run's last step (`alerts`) gets the live tail, unless it is switched off."""
    if not kafka.live_seconds:
        return {}
    return {
        "alerts": {
            "config": {
                "live_seconds": kafka.live_seconds,
                "live_idle_seconds": kafka.live_idle_seconds,
                "live_topics": {kind: getattr(kafka, f"{kind}_topic") for kind in KINDS},
            }
        }
    }


def topics_tag_values(topic_of: Mapping[str, str]) -> list[str]:
    """Every value of TOPICS_TAG a run of these topics can carry."""
    return [
        ",".join(topic_of[kind] for kind in KINDS if kind in kinds)
        for kinds in (set(KINDS), {"backend"}, {"clickstream"})
    ]


def in_flight_ingest_runs(
    instance: dg.DagsterInstance, topic_of: Mapping[str, str]
) -> list[dg.DagsterRun]:
    """Ingest runs of these topics queued or running (at most a few: one runs, one waits)."""
    tags = {INGEST_TAG: "true", TOPICS_TAG: topics_tag_values(topic_of)}
    return list(instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT, tags=tags), limit=3))


def ingest_busy(
    instance: dg.DagsterInstance,
    topic_of: Mapping[str, str],
    in_flight: Sequence[dg.DagsterRun],
) -> bool:
    """An ingest run of these topics is in flight, or failed and about to be (or maybe) retried."""
    if in_flight:
        return True
    tags = {INGEST_TAG: "true", TOPICS_TAG: topics_tag_values(topic_of)}
    failed = instance.get_runs(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], tags=tags), limit=5
    )
    return any(
        run.is_complete_and_waiting_to_retry
        or (instance.run_retries_enabled and WILL_RETRY_TAG not in run.tags)
        for run in failed
    )


def live_until(in_flight: Sequence[dg.DagsterRun]) -> float | None:
    """When the live tail of one of these in-flight runs ends (epoch seconds), if any has one."""
    ends = [float(run.tags[LIVE_UNTIL_TAG]) for run in in_flight if LIVE_UNTIL_TAG in run.tags]
    return max(ends, default=None)


def follow_committed(
    cursor: Mapping[str, Mapping[int, int]],
    committed: Mapping[str, Mapping[int, int]],
    ends: Mapping[str, Mapping[int, int]],
) -> dict[str, dict[int, int]]:
    """The cursor moved up to what the runs committed (a live tail takes beyond its plan)."""
    moved = {topic: dict(offsets) for topic, offsets in cursor.items()}
    for topic, topic_ends in ends.items():
        for p, end in topic_ends.items():
            done = min(committed.get(topic, {}).get(p, 0), end)
            if done > moved.get(topic, {}).get(p, 0):
                moved.setdefault(topic, {})[p] = done
    return moved


def build_ingest_sensor(
    jobs: Mapping[frozenset[str], dg.UnresolvedAssetJobDefinition],
    raw_jobs: Mapping[frozenset[str], dg.UnresolvedAssetJobDefinition] | None = None,
) -> dg.SensorDefinition:
    """`jobs` maps the set of kinds a run covers to the job that ingests them (raw tables,
    journeys, alerts); `raw_jobs` to the job of the raw tables alone, for N > 1 writers."""
    raw_jobs = raw_jobs or {}

    @dg.sensor(
        name=SENSOR_NAME,
        jobs=[*jobs.values(), *raw_jobs.values()],
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches both topics' end offsets and launches one ingest run per range of at most "
            "ANALYTICS_INGEST_MAX_BATCH messages (both topics together); requests again ranges "
            "no run stored (by the consumer group's committed offsets). Never opens the lake."
        ),
    )
    def ingest_sensor(context: dg.SensorEvaluationContext, kafka: KafkaResource):
        deadline = long_poll_deadline(time.monotonic(), kafka.sensor_wait_seconds)
        writers = kafka.writers
        held = queued_writers(context.instance, {INGEST_TAG: "true"}) if writers > 1 else set()
        waiting = context.instance.get_runs(
            dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
                tags={INGEST_TAG: "true"},
            ),
            limit=1,
        )
        if waiting and writers == 1:
            # Coalesce: leave the cursor where it is, so the first tick after this run starts
            # requests one run for everything that arrived meanwhile. The queue then holds at
            # most one waiting ingest run instead of growing under sustained traffic.
            return dg.SkipReason(f"ingest run {waiting[0].run_id} is still queued")
        topic_of = {kind: getattr(kafka, f"{kind}_topic") for kind in KINDS}
        in_flight = in_flight_ingest_runs(context.instance, topic_of)
        live = live_until(in_flight)
        if live is not None and live - time.time() > HANDOFF_S:
            # Coalesce: the live run stores what lands until then, its successor is planned
            # just before. A message arriving meanwhile waits for no run at all.
            return dg.SkipReason(
                f"an ingest run takes new messages live until "
                f"{datetime.fromtimestamp(live, UTC).isoformat(timespec='seconds')}"
            )
        state = SensorState.load(context.cursor)
        busy = ingest_busy(context.instance, topic_of, in_flight)
        consumer = kafka.consumer()  # in the group, to read its offsets; never joins it
        try:
            ends = kafka.topics_end_offsets([topic_of[kind] for kind in KINDS], consumer)
            committed = {t: kafka.committed_offsets(t, e, consumer) for t, e in ends.items() if e}
            state.offsets = {
                **state.offsets,
                **follow_committed(state.offsets, committed, ends),
            }
            quiet = all(ends.values()) and not ends_moved(ends, state.offsets)
            if quiet and (busy or not unstored_ranges(state.offsets, committed, ends)):
                while (remaining := deadline - time.monotonic()) > 0:
                    time.sleep(min(POLL_INTERVAL_S, remaining))
                    ends = kafka.topics_end_offsets(list(ends), consumer)
                    if ends_moved(ends, state.offsets):
                        break
        finally:
            consumer.close()
        missing = [kind for kind in KINDS if not ends[topic_of[kind]]]
        for kind in missing:
            del ends[topic_of[kind]]
        cursor = {topic: dict(state.offsets[topic]) for topic in ends if topic in state.offsets}
        notes = []

        renewed = False
        for topic, p, was, end in topic_resets(cursor, ends):
            context.log.warning(
                f"{topic} partition {p} ends at offset {end}, below the {was} already "
                "requested: the topic was recreated or its offsets were reset. Following it: "
                "the partition is ingested again from its start (the run rewinds the lake's "
                "ledger; event_ids already stored are not stored twice)."
            )
            notes.append(f"{topic} partition {p} was reset (offset {was} -> {end})")
            cursor[topic][p] = 0
            renewed = True

        gaps = {} if busy else unstored_ranges(cursor, committed, ends)
        if not gaps and not busy:
            state.refills, state.next_refill_at = 0, 0.0
        elif gaps and time.time() >= state.next_refill_at:
            for topic, partitions in gaps.items():
                for p, stored in sorted(partitions.items()):
                    context.log.warning(
                        f"requesting {topic} partition {p} offsets {stored}-{cursor[topic][p]} "
                        "again: no run stored them (the consumer group's committed offset is "
                        f"{stored}), e.g. the run that had them failed for good"
                    )
                    cursor[topic][p] = stored
            state.refills += 1
            wait = REFILL_BACKOFF_S[min(state.refills, len(REFILL_BACKOFF_S) - 1)]
            state.next_refill_at = time.time() + wait
            renewed = True
        if renewed:
            state.epoch += 1

        # Per writer (N > 1): only the partitions of writers with no run queued are planned.
        planned_ends = {
            topic: {p: e for p, e in topic_ends.items() if writer_of(p, writers) not in held}
            for topic, topic_ends in ends.items()
        }
        by_writer = (
            [(None, plan_topic_runs(cursor, ends, kafka.max_batch))]
            if writers == 1
            else [
                (k, plan_topic_runs(cursor, writer_ends(ends, k, writers), kafka.max_batch))
                for k in range(writers)
                if k not in held
            ]
        )
        runs = [run for _, writer_runs in by_writer for run in writer_runs]
        problems = [kafka.missing_topic(topic_of[kind], TOPIC_VARIABLES[kind]) for kind in missing]
        if not runs:
            if problems:
                raise problems[0]
            skip = "; ".join([*notes, f"no new messages on {', '.join(ends)}"])
            state.offsets = {**state.offsets, **cursor}
            dumped = state.dump()
            if dumped == SensorState.load(context.cursor).dump():
                return dg.SkipReason(skip)
            return dg.SensorResult(skip_reason=skip, cursor=dumped)
        for problem in problems:
            context.log.error(str(problem))
        suffix = f"~e{state.epoch}" if state.epoch else ""
        requests = []
        for writer, writer_runs in by_writer:
            for run in writer_runs:
                kinds = [kind for kind in KINDS if topic_of[kind] in run]
                job = (jobs if writer is None else raw_jobs)[frozenset(kinds)]
                requests.append(
                    dg.RunRequest(
                        run_key=topics_run_key(run) + suffix,
                        job_name=job.name,
                        run_config={
                            "ops": {
                                **{
                                    f"raw_{kind}_events": {
                                        "config": {
                                            "topic": topic_of[kind],
                                            **ranges_config(run[topic_of[kind]]),
                                        }
                                    }
                                    for kind in kinds
                                },
                                **(live_config(kafka) if writer is None else {}),
                            }
                        },
                        tags={
                            INGEST_TAG: "true",
                            MAX_RUNTIME_TAG: str(INGEST_MAX_RUNTIME_S),
                            TOPICS_TAG: ",".join(topic_of[kind] for kind in kinds),
                            "analytics/messages": str(
                                sum(r.size for ranges in run.values() for r in ranges)
                            ),
                            **({} if writer is None else {WRITER_TAG: str(writer)}),
                        },
                    )
                )
        state.offsets = {**state.offsets, **advance_cursor(cursor, planned_ends)}
        return dg.SensorResult(run_requests=requests, cursor=state.dump())

    return ingest_sensor
