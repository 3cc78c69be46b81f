"""The daemon's self-test schedule: at start, then every `privacy.selftest_interval_s`; fail closed meanwhile.

Until a self-test has passed, and whenever one fails, `ok` is False and the
processor protects whole frames (black). A failing network is retested every
`RETRY_S` seconds (sooner if the interval is shorter), so a glitching
accelerator that recovers is back in service without a restart. The test's
inference runs on the frame runner's worker thread when it has one (the
interpreter is not shared between threads); its check runs on the loop.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import Future
from typing import Callable, Optional

from ..pipelining import FrameRunner
from ..privacy import selftest
from ..privacy.selftest import SelfTestResult
from .config import Config
from .metrics import Metrics

log = logging.getLogger("edge_bodypix.daemon")
RETRY_S = 30.0


class SelfTestSchedule:
    """Runs `privacy.selftest` on the daemon's network, keeps its verdict, and reports it (log, metrics, status)."""

    def __init__(self, runner: FrameRunner, config: Config, metrics: Metrics,
                 status: Callable[[str], None] = lambda text: None, clock: Callable[[], float] = time.monotonic):
        self.runner, self.net, self.metrics, self.status, self.clock = runner, runner.net, metrics, status, clock
        self.interval = config.privacy.selftest_interval_s
        self.target = config.privacy.protection().target
        self.threshold = config.model.segmentation_threshold
        self.last: Optional[SelfTestResult] = None
        self._future: Optional[Future] = None
        self._started = 0.0
        self._next = 0.0
        self.metrics.set("selftest_ok", 0)

    @property
    def ok(self) -> bool:
        """Whether the latest self-test passed (False before the first one)."""
        return self.last is not None and self.last.passed

    @property
    def reason(self) -> str:
        if self.last is None:
            return "self-test not run yet"
        return self.last.summary()

    def run_now(self) -> SelfTestResult:
        """Run a self-test to completion on this thread (at start, before any inference is queued)."""
        return self._apply(selftest.run_selftest(self.net, self.target, None, self.threshold))

    def poll(self) -> None:
        """Between frames: collect a finished self-test, or start one that is due."""
        if self._future is not None:
            if not self._future.done():
                return
            future, self._future = self._future, None
            try:
                inference = future.result()
            except Exception as exc:  # noqa: BLE001 - the network failed the test
                self._apply(selftest.inference_failed(exc, self._started))
                return
            self._apply(selftest.finish(self.net, inference, self.target, None, self.threshold, self._started))
            return
        if self.clock() < self._next:
            return
        if not self.runner.threaded:
            self.run_now()
            return
        self._started = time.perf_counter()
        self._future = self.runner.call(selftest.start, self.net)

    def _apply(self, result: SelfTestResult) -> SelfTestResult:
        was_ok = self.ok
        self.last = result
        self.metrics.inc("selftest_runs")
        self.metrics.set("selftest_ok", 1 if result.passed else 0)
        self.metrics.set("selftest_duration_s", round(result.duration_s, 4))
        if result.passed:
            self._next = self.clock() + self.interval if self.interval > 0 else math.inf
            (log.debug if was_ok else log.info)("%s", result.summary())
            if not was_ok:
                self.status("self-test passed; protecting normally")
        else:
            self.metrics.inc("selftest_failures")
            self._next = self.clock() + (min(RETRY_S, self.interval) if self.interval > 0 else RETRY_S)
            log.error("%s; every frame is fully protected until it passes (retest in %.0f s)",
                      result.summary(), self._next - self.clock())
            self.status(f"{result.summary()}; frames fully protected")
        return result
