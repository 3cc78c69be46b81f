"""Daemon throughput and memory: end-to-end frame time against bare inference, RSS over a long run.

Runs the real service loop (file source, default model, "medium", face
blurring, HTTP off) over the shared walking-person video, looping it, and
prints in one run: median bare inference time, mean end-to-end frame time
(read + segment + protect + outputs), their ratio, the frame rate, and the
resident memory after warm-up and at the end (growth) plus the peak.

With the pipelined loop (the default) the daemon's interpreter has one thread
fewer than the cores, so its own inference is slower than a lone interpreter
on all cores. The run therefore also times that lone all-cores interpreter on
the same frames and prints the end-to-end time against it too.

Targets (daemon issue): end-to-end <= 1.25x inference; RSS growth < 5 MB over
10,000 frames after warm-up.

    python benchmarks/daemon_throughput.py [--frames 10000] [--warmup 1000] [--effect blur-faces] [--json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import List

from common import SHARED, finish

from edge_bodypix.benchsuite.timing import peak_rss_mb, rss_mb

VIDEO = SHARED / "videos" / "one-by-one-person-detection.mp4"


def all_cores_inference_ms(video: str, parts: bool, frames: int = 200) -> float:
    """Median bare inference time of the default model on all cores, on the video's first frames."""
    import cv2

    import edge_bodypix

    net = edge_bodypix.load(num_threads=os.cpu_count() or 1)
    roles = net.person_roles(parts=parts)
    capture = cv2.VideoCapture(video)
    times = []
    try:
        for _ in range(frames):
            ok, image = capture.read()
            if not ok:
                break
            times.append(net.infer(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), "medium", roles).inference_ms)
    finally:
        capture.release()
    return statistics.median(times[10:] or times)


class TimedNet:
    """The network, recording the interpreter time of every inference."""

    def __init__(self, net):
        self.net, self.inference_ms = net, []

    def infer(self, *args, **kwargs):
        inference = self.net.infer(*args, **kwargs)
        self.inference_ms.append(inference.inference_ms)
        return inference

    def __getattr__(self, name):
        return getattr(self.net, name)


class MemoryProbe:
    """An output sampling RSS every `every` frames."""

    def __init__(self, every: int = 250):
        self.every, self.count, self.samples = every, 0, []

    def start(self):
        pass

    def write(self, frame):
        self.count += 1
        if self.count % self.every == 0:
            self.samples.append((self.count, rss_mb()))

    def stop(self):
        pass


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--effect", default="blur-faces")
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--no-pipeline", dest="pipeline", action="store_false",
                        help="infer and post-process in turn (model.pipeline = false)")
    parser.add_argument("--threads", type=int, default=0, help="interpreter threads (0: the daemon's default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.video):  # the daemon would wait for it as for a camera not plugged in yet
        parser.error(f"--video {args.video}: no such file (set EDGE_BODYPIX_SHARED to the shared data)")

    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service, load_network
    from edge_bodypix.daemon.systemd import Notifier

    config = load_config(None, {"source": {"uri": args.video, "loop": True, "realtime": False}, "http": {"listen": ""},
                                "privacy": {"effect": args.effect},
                                "service": {"max_frames": args.frames},
                                "model": {"pipeline": args.pipeline, "threads": args.threads}})
    net = TimedNet(load_network(config))
    probe = MemoryProbe(every=max(10, min(250, args.frames // 20)))
    service = Service(config, net=net, outputs=[probe], notifier=Notifier(address=""))
    started = time.perf_counter()
    service.run()
    elapsed = time.perf_counter() - started
    inference = statistics.median(net.inference_ms)
    peak_mb = peak_rss_mb()  # before the second interpreter below
    lone = all_cores_inference_ms(args.video, parts=args.effect.endswith("-faces"))
    frame_ms = elapsed / service.frames * 1e3
    after_warmup = [rss for count, rss in probe.samples if count >= args.warmup]
    growth = after_warmup[-1] - after_warmup[0] if len(after_warmup) >= 2 else float("nan")
    report = {
        "model": net.info.name, "backend": net.info.backend, "effect": args.effect, "frames": service.frames,
        "runtime": net.backend.description, "pipeline": args.pipeline,
        "inference_ms_median": round(inference, 3), "end_to_end_ms_mean": round(frame_ms, 3),
        "ratio": round(frame_ms / inference, 3), "fps": round(service.frames / elapsed, 1),
        "all_cores_inference_ms_median": round(lone, 3), "ratio_vs_all_cores": round(frame_ms / lone, 3),
        "rss_after_warmup_mb": round(after_warmup[0], 1) if after_warmup else None,
        "rss_end_mb": round(after_warmup[-1], 1) if after_warmup else None,
        "rss_growth_mb": round(growth, 2), "peak_rss_mb": round(peak_mb, 1),
        "fully_protected_frames": int(service.metrics.counter("frames_fully_protected")),
    }
    return finish(report, args.json, footer=[
        f"model {report['model']} | {report['runtime']} | {'pipelined' if args.pipeline else 'sequential'} "
        f"| effect {args.effect} | {report['frames']} frames of {os.path.basename(args.video)} (768x432), medium",
        f"inference {inference:.2f} ms (median) | end to end {frame_ms:.2f} ms (mean) | ratio {report['ratio']:.3f} "
        f"(target <= 1.25: {'ok' if report['ratio'] <= 1.25 else 'MISSED'}) | {report['fps']} fps",
        f"a lone interpreter on all {os.cpu_count()} cores: inference {lone:.2f} ms (median) | "
        f"end to end against it {report['ratio_vs_all_cores']:.3f} "
        f"(target <= 1.25: {'ok' if report['ratio_vs_all_cores'] <= 1.25 else 'MISSED'})",
        f"RSS after {args.warmup} frames {report['rss_after_warmup_mb']} MB, at the end {report['rss_end_mb']} MB: "
        f"growth {report['rss_growth_mb']} MB (target < 5: {'ok' if growth < 5 else 'MISSED'}); "
        f"peak {report['peak_rss_mb']} MB; fully protected frames {report['fully_protected_frames']}"])


if __name__ == "__main__":
    sys.exit(main())
