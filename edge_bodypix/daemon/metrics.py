"""Counters and histograms in the Prometheus text format (no client library needed)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional, Sequence, Tuple

LATENCY_BUCKETS_S = (0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    def __init__(self, buckets: Sequence[float] = LATENCY_BUCKETS_S):
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1


@dataclass(frozen=True)
class ErrorRecord:
    """One error the daemon survived: when (wall clock), what kind, and what it said."""

    time: float
    kind: str
    message: str


RECENT_ERRORS = 500  # kept for the status page's errors-over-time chart and MQTT's last error


class Metrics:
    """Daemon metrics; thread-safe, rendered by `/metrics`."""

    def __init__(self, labels: Dict[str, str]):
        self.labels = dict(labels)
        self._lock = threading.Lock()
        self.counters: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}
        self.histograms = {"inference": Histogram(), "end_to_end": Histogram()}
        self.gauges: Dict[str, float] = {}
        self._errors: Deque[ErrorRecord] = deque(maxlen=RECENT_ERRORS)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] = self.counters.get(key, 0.0) + amount

    def error(self, kind: str, message: str) -> None:
        """Count an error of `kind` (the `errors{kind=...}` counter) and keep it among the recent ones."""
        self.inc("errors", kind=kind)
        with self._lock:
            self._errors.append(ErrorRecord(time.time(), kind, message))

    def recent_errors(self, since: float = 0.0) -> List[ErrorRecord]:
        """Errors recorded at or after `since` (wall clock), oldest first."""
        with self._lock:
            return [record for record in self._errors if record.time >= since]

    def last_error(self) -> Optional[ErrorRecord]:
        with self._lock:
            return self._errors[-1] if self._errors else None

    def counters_named(self, name: str) -> List[Tuple[Dict[str, str], float]]:
        """Every labelled value of counter `name`: [(labels, value)]."""
        with self._lock:
            return [(dict(labels), value) for (n, labels), value in sorted(self.counters.items()) if n == name]

    def gauge(self, name: str, default: float = 0.0) -> float:
        with self._lock:
            return self.gauges.get(name, default)

    def mean(self, histogram: str) -> Optional[float]:
        """The mean of a histogram's observations (seconds), None before the first."""
        with self._lock:
            h = self.histograms[histogram]
            return h.total / h.count if h.count else None

    def observe(self, histogram: str, seconds: float) -> None:
        with self._lock:
            self.histograms[histogram].observe(seconds)

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = value

    def counter(self, name: str, **labels: str) -> float:
        with self._lock:
            return self.counters.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        """The Prometheus exposition text."""
        def fmt(labels: Dict[str, str]) -> str:
            if not labels:
                return ""
            body = ",".join(f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                            for k, v in sorted(labels.items()))
            return "{" + body + "}"

        lines = ["# HELP edge_bodypix_info Model and backend of this daemon.", "# TYPE edge_bodypix_info gauge",
                 f"edge_bodypix_info{fmt(self.labels)} 1"]
        with self._lock:
            names = sorted({name for name, _ in self.counters})
            for name in names:
                lines.append(f"# TYPE edge_bodypix_{name} counter")
                for (n, labels), value in sorted(self.counters.items()):
                    if n == name:
                        lines.append(f"edge_bodypix_{name}{fmt(dict(labels))} {value:g}")
            for name, value in sorted(self.gauges.items()):
                lines.append(f"# TYPE edge_bodypix_{name} gauge")
                lines.append(f"edge_bodypix_{name} {value:g}")
            for name, histogram in self.histograms.items():
                metric = f"edge_bodypix_{name}_latency_seconds"
                lines.append(f"# TYPE {metric} histogram")
                for bound, count in zip(histogram.buckets, histogram.counts):
                    lines.append(f'{metric}_bucket{{le="{bound:g}"}} {count}')
                lines.append(f'{metric}_bucket{{le="+Inf"}} {histogram.count}')
                lines.append(f"{metric}_sum {histogram.total:.6f}")
                lines.append(f"{metric}_count {histogram.count}")
        return "\n".join(lines) + "\n"
