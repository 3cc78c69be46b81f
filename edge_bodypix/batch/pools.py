"""Where chunks run: worker processes on this machine, or Ray actors on a cluster. One interface, `run`.

Each worker loads the network once and keeps it. A job whose worker dies
(killed, out of memory, a lost node) or raises is tried again, up to
`attempts` times in all; after that `run` reports it as failed and the job
writes it fail-safe (black). A worker that cannot start at all (the model
does not load) stops the run with `WorkerStartError`. Results come back as
they finish, in any order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Deque, Dict, Iterable, Optional, Union

from ..errors import BackendUnavailableError
from .worker import ChunkJob, ChunkResult, ChunkWorker, ImageJob, Settings, WorkerStartError

log = logging.getLogger("edge_bodypix.batch")
Job = Union[ChunkJob, ImageJob]
OnResult = Callable[[Job, ChunkResult], None]
DEFAULT_ATTEMPTS = 3


def failed(job: Job, error: str) -> ChunkResult:
    index = job.chunk.index if isinstance(job, ChunkJob) else 0
    frames = job.chunk.frames if isinstance(job, ChunkJob) else 1
    return ChunkResult(job.key, index, frames, 0, 0, error=error)


class _Attempts:
    """A pool's failed jobs: queued again, or after `limit` failures reported failed (written fail-safe)."""

    def __init__(self, limit: int, queue: Deque[Job], on_result: OnResult):
        self.limit, self.queue, self.on_result = limit, queue, on_result
        self.tries: Dict[int, int] = {}

    def failed(self, job: Job, error: str) -> None:
        self.tries[id(job)] = self.tries.get(id(job), 0) + 1
        if self.tries[id(job)] >= self.limit:
            log.error("%s chunk failed %d times (%s); writing it fail-safe", job.key, self.limit, error)
            self.on_result(job, failed(job, error))
        else:
            log.warning("%s: %s; retrying", job.key, error)
            self.queue.append(job)


# -- one machine: worker processes --------------------------------------------------------------------
_worker: Optional[ChunkWorker] = None
_start_error: Optional[str] = None


def _start_worker(settings: Settings) -> None:
    """A worker is one core's worth: one interpreter thread (the worker's own), one OpenCV thread."""
    global _worker, _start_error
    import cv2

    from ..native_log import quiet_native_libraries

    quiet_native_libraries(False)
    cv2.setNumThreads(1)  # N workers on N cores: OpenCV's pool would only oversubscribe them
    try:
        _worker = ChunkWorker(settings)
    except Exception as exc:  # noqa: BLE001 - reported by the first job, which stops the whole run
        _start_error = f"{type(exc).__name__}: {exc}"


def _run_in_worker(job: Job) -> ChunkResult:
    if _worker is None:
        raise WorkerStartError(f"a worker could not start: {_start_error}")
    return _worker.run(job)


class LocalPool:
    """`workers` processes (spawned, each with its own interpreter); a broken pool is rebuilt and its jobs rerun."""

    def __init__(self, settings: Settings, workers: int, attempts: int = DEFAULT_ATTEMPTS):
        self.settings, self.workers, self.attempts = settings, workers, attempts
        self._executor: Optional[ProcessPoolExecutor] = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker, initargs=(self.settings,))
        return self._executor

    def run(self, jobs: Iterable[Job], on_result: OnResult) -> None:
        queue: Deque[Job] = deque()
        source = iter(jobs)
        attempts = _Attempts(self.attempts, queue, on_result)
        running: Dict[Future, tuple] = {}
        while True:
            while len(running) < 2 * self.workers:
                job = queue.popleft() if queue else next(source, None)
                if job is None:
                    break
                pool = self._pool()
                running[pool.submit(_run_in_worker, job)] = (job, pool)
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job, pool = running.pop(future)
                try:
                    result = future.result()
                except WorkerStartError:
                    raise  # every chunk would fail the same way: stop, saying why
                except BrokenProcessPool:
                    error = "a worker process died"
                    if pool is self._executor:  # the other jobs of that pool fail the same way: rebuild once
                        self._rebuild()
                except Exception as exc:  # noqa: BLE001 - the job failed; retried, then written fail-safe
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    on_result(job, result)
                    continue
                attempts.failed(job, error)

    def _rebuild(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


# -- a cluster: Ray actors -------------------------------------------------------------------------------
#: Ray's single-node switch (meant for Windows and macOS). On Linux Ray swaps 127.0.0.1 for the machine's LAN
#: address, and a local Ray's GCS, raylet and workers then listen there; "0" keeps every server on loopback.
RAY_SINGLE_NODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def keep_local_ray_on_loopback() -> None:
    """Make the local Ray this process starts listen on 127.0.0.1 only.

    An appliance that spreads a job over its own cores has no reason to offer
    Ray's servers to its network. Call before `ray.init` (Ray reads the
    variable when imported; the workers it spawns inherit it).
    """
    os.environ[RAY_SINGLE_NODE_ENV] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # imported already: the driver reads the flag when it picks its address
        constants.ENABLE_RAY_CLUSTER = False


def import_ray():
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailableError("--ray needs Ray: pip install 'edge-bodypix[ray]'") from exc
    return ray


class RayPool:
    """`workers` long-lived Ray actors (one CPU each, a GPU each for onnxruntime on a GPU host), restarted if lost.

    `address` None starts a local Ray on loopback (even where `ray start` left
    a cluster running) and `close` stops it; otherwise the pool joins that
    cluster (every node needs edge-bodypix and the model installed).
    """

    def __init__(self, settings: Settings, workers: int, address: Optional[str] = None,
                 attempts: int = DEFAULT_ATTEMPTS):
        if address is None:
            keep_local_ray_on_loopback()
        ray = import_ray()
        self.ray, self.settings, self.attempts = ray, settings, attempts
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            kwargs = {"address": address} if address else {"address": "local", "num_cpus": workers,
                                                           "include_dashboard": False}
            ray.init(log_to_driver=False, logging_level=logging.WARNING, **kwargs)
        gpus = 1 if settings.backend == "onnxruntime" and _has_gpu() else 0
        actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=-1, max_task_retries=0)(_RayWorker)
        self.actors = [actor.remote(settings) for _ in range(workers)]

    def run(self, jobs: Iterable[Job], on_result: OnResult) -> None:
        ray = self.ray
        queue: Deque[Job] = deque()
        source = iter(jobs)
        attempts = _Attempts(self.attempts, queue, on_result)
        idle = deque(self.actors)
        running: Dict[object, tuple] = {}
        while True:
            while idle:
                job = queue.popleft() if queue else next(source, None)
                if job is None:
                    break
                actor = idle.popleft()
                running[actor.run.remote(job)] = (job, actor)
            if not running:
                return
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                job, actor = running.pop(ref)
                idle.append(actor)  # a lost actor is restarted by Ray (max_restarts) and reloads the model
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    error = f"a Ray worker was lost ({type(exc).__name__})"
                except ray.exceptions.RayTaskError as exc:
                    if isinstance(exc.cause, WorkerStartError):
                        raise exc.cause from None
                    error = str(exc.cause) if exc.cause is not None else str(exc)
                else:
                    on_result(job, result)
                    continue
                attempts.failed(job, error)

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []
        if self._owns_ray:
            self.ray.shutdown()  # the local Ray it started, or its connection to a cluster


class _RayWorker:
    def __init__(self, settings: Settings):
        _start_worker(settings)

    def run(self, job: Job) -> ChunkResult:
        return _run_in_worker(job)


def _has_gpu() -> bool:
    from ..backends import backend_spec

    return backend_spec("onnxruntime").gpu()
