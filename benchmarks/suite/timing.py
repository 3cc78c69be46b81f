"""Latency of pre-processing, inference and post-processing, interleaved across variants in one run."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from .matrix import Variant, internal_resolution_for
from .progress import steps

METHODS = ("segment_person", "segment_person_parts", "segment_multi_person")


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return float("nan")


def load_variants(variants: Sequence[Variant], threads: int, show_progress: bool = True) -> List[dict]:
    """Load each variant, recording load time, memory added and model size; failures are reported, not fatal."""
    import edge_bodypix

    loaded = []
    for variant in steps(variants, "loading models", lambda v: v.label, show_progress):
        before = rss_mb()
        started = time.perf_counter()
        try:
            net = edge_bodypix.load(model=variant.model, backend=variant.backend, num_threads=threads)
        except edge_bodypix.EdgeBodyPixError as exc:
            print(f"skipping {variant.label}: {exc}", file=sys.stderr)
            continue
        loaded.append({"variant": variant, "net": net, "load_s": time.perf_counter() - started,
                       "rss_added_mb": rss_mb() - before, "size_bytes": os.path.getsize(net.info.path)})
    return loaded


def _stats(values: List[float]) -> Dict[str, float]:
    return {"median": round(statistics.median(values), 3), "p90": round(float(np.percentile(values, 90)), 3)}


def _time_round(loaded: List[dict], frames: Sequence[np.ndarray], methods: Sequence[str], internal,
                samples: Optional[Dict[tuple, Dict[str, List[float]]]]) -> None:
    """One pass over the frames, variants interleaved per frame; timings go to `samples` (None: warm-up)."""
    for frame in frames:
        for item in loaded:
            net = item["net"]
            for method in methods:
                getattr(net, method)(frame, internal_resolution=internal)
                if samples is None:
                    continue
                t = net.last_timings
                bucket = samples[(id(net), method)]
                bucket["pre"].append(t.preprocess_ms)
                bucket["inference"].append(t.inference_ms)
                bucket["post"].append(t.postprocess_ms)
                bucket["total"].append(t.total_ms)


def measure(loaded: List[dict], frames: Sequence[np.ndarray], resolutions: Sequence, rounds: int,
            methods: Sequence[str] = METHODS, show_progress: bool = True) -> List[dict]:
    """Rows of median / p90 latencies per (variant, resolution, method), after two warm-up rounds each."""
    rows = []
    plan = [(resolution, round_index) for resolution in resolutions for round_index in range(rounds + 2)]
    samples: Dict[tuple, Dict[str, List[float]]] = {}
    label = lambda step: f"resolution {step[0]}, round {step[1] + 1} of {rounds + 2}"  # noqa: E731
    for resolution, round_index in steps(plan, "timing", label, show_progress):
        internal = internal_resolution_for(resolution)
        if round_index == 0:
            samples = {(id(item["net"]), method): {"pre": [], "inference": [], "post": [], "total": []}
                       for item in loaded for method in methods}
        _time_round(loaded, frames, methods, internal, samples if round_index >= 2 else None)
        if round_index < rounds + 1:
            continue
        for item in loaded:
            net = item["net"]
            for method in methods:
                bucket = samples[(id(net), method)]
                total = statistics.median(bucket["total"])
                rows.append({
                    "model": net.info.name, "label": item["variant"].label, "backend": net.info.backend,
                    "quantisation": net.info.quantisation, "resolution": resolution,
                    "input_size": list(net.input_size_for(frames[0].shape[:2], internal)), "method": method,
                    "preprocess_ms": _stats(bucket["pre"]), "inference_ms": _stats(bucket["inference"]),
                    "postprocess_ms": _stats(bucket["post"]), "total_ms": _stats(bucket["total"]),
                    "fps": round(1000.0 / total, 1) if total else None,
                    "generated_weights": False,
                })
    return rows


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
