"""A one-thread job queue that lets polling Kafka overlap with writing the lake."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWriter:
    """Runs DuckDB jobs in order on one background thread, at most one in flight; a job's
    `then` runs on the caller's thread once the job has finished."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writer")
        self._pending: tuple[Future[Any], Callable[[Any], None] | None] | None = None

    def submit(self, job: Callable[[], Any], then: Callable[[Any], None] | None = None) -> None:
        self._wait()
        self._pending = (self._executor.submit(job), then)

    def _wait(self) -> None:
        if self._pending is not None:
            future, then = self._pending
            self._pending = None
            result = future.result()
            if then is not None:
                then(result)

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._wait()
            elif self._pending is not None:
                self._pending[0].exception()  # let an in-flight transaction finish or fail
        finally:
            self._executor.shutdown(wait=True)
