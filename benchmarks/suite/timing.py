"""Latency of pre-processing, inference and post-processing, interleaved across variants in one run."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from typing import Dict, List, Sequence

import numpy as np

from .matrix import Variant, internal_resolution_for

METHODS = ("segment_person", "segment_person_parts", "segment_multi_person")


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return float("nan")


def load_variants(variants: Sequence[Variant], threads: int) -> List[dict]:
    """Load each variant, recording load time, memory added and model size; failures are reported, not fatal."""
    import edge_bodypix

    loaded = []
    for variant in variants:
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


def measure(loaded: List[dict], frames: Sequence[np.ndarray], resolutions: Sequence, rounds: int,
            methods: Sequence[str] = METHODS, progress=None) -> List[dict]:
    """Rows of median / p90 latencies per (variant, resolution, method); variants interleaved per frame."""
    rows = []
    total_steps = len(resolutions) * (rounds + 2)
    step = 0
    for resolution in resolutions:
        internal = internal_resolution_for(resolution)
        samples = {(id(item["net"]), method): {"pre": [], "inference": [], "post": [], "total": []}
                   for item in loaded for method in methods}
        for round_index in range(rounds + 2):  # two warm-up rounds
            step += 1
            if progress:
                progress(step, total_steps, f"resolution {resolution}")
            for frame in frames:
                for item in loaded:
                    net = item["net"]
                    for method in methods:
                        getattr(net, method)(frame, internal_resolution=internal)
                        if round_index < 2:
                            continue
                        t = net.last_timings
                        bucket = samples[(id(net), method)]
                        bucket["pre"].append(t.preprocess_ms)
                        bucket["inference"].append(t.inference_ms)
                        bucket["post"].append(t.postprocess_ms)
                        bucket["total"].append(t.total_ms)
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
