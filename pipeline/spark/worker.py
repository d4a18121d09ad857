"""One helper process that holds the pipeline's SparkSession while a run needs it.

Why a process of its own: with Spark in local mode the Hive metastore is an embedded
Derby database, which one JVM at a time may open, and dbt-spark (`method: session`)
starts its own JVM in the dbt process. So the run's Spark work before dbt (ingestion)
happens in this worker, the worker exits (its JVM with it) before dbt starts, and a
new one serves the gate and the publication. On a cluster (Thrift server, Databricks)
the metastore is a service and this is merely one driver per phase.

    result = worker.call(tasks.some_task, *args)   # runs in the worker, started on demand
    worker.shutdown()                              # ends the worker and its JVM
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None


def _get() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _executor


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `function(*args, **kwargs)` in the Spark worker and return its result (or raise its error)."""
    from pipeline.spark.session import require_spark

    require_spark()  # a clear message here rather than a dead worker
    try:
        return _get().submit(function, *args, **kwargs).result()
    except BrokenProcessPool as error:
        shutdown()
        raise RuntimeError(f"the Spark worker process died ({error}); see its output above") from None


def shutdown() -> None:
    """End the worker (if any): its JVM exits and releases the Derby metastore."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        try:  # stop the session cleanly (Derby released in order), then let the process end
            executor.submit(_stop_session).result(timeout=120)
        except Exception:  # noqa: BLE001 - the process ends below either way
            pass
        executor.shutdown(wait=True, cancel_futures=True)


def _stop_session() -> None:
    from pipeline.spark.session import session

    if session.cache_info().currsize:
        session().stop()
        session.cache_clear()


atexit.register(shutdown)
