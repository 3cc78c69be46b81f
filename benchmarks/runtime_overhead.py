"""How much of a frame's time the runtime spends outside the interpreter.

For the default model at "medium", on the shared photos resized to 640x480
(camera frames) and at their full 1440x1080, this prints the median inference
time, the median pre- plus post-processing time and their ratio, for person
and part segmentation. The two methods and the photos are interleaved in one
run, so the ratios hold on a noisy machine. It also times `import` plus
`load()` in a fresh interpreter process.

Targets (lean-runtime issue), on 640x480 frames: person segmentation
pre+post <= 10% of inference, part segmentation <= 20%; import + load < 1 s.

    python benchmarks/runtime_overhead.py [--images DIR] [--rounds 40] [--threads N] [--json]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from common import DEFAULT_IMAGES, Column, camera_frame, finish, parser_for, read_rgb

TARGETS = {("640x480", "segment_person"): 0.10, ("640x480", "segment_person_parts"): 0.20}


def time_import_and_load(model: str, threads: int) -> float:
    code = (
        "import time; t=time.perf_counter(); import edge_bodypix; "
        f"edge_bodypix.load(model={model!r}, num_threads={threads}); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: List[str] = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--resolution", default="medium")
    args = parser.parse_args(argv)

    import edge_bodypix

    net = edge_bodypix.load(model=args.model, num_threads=args.threads)
    photos = [read_rgb(p) for p in sorted(args.images.glob("*.jpg"))]
    if not photos:
        raise SystemExit(f"no .jpg images in {args.images}")
    sizes = {
        "640x480": [camera_frame(p) for p in photos],
        "full": photos,
    }
    methods = ("segment_person", "segment_person_parts")
    samples: Dict[tuple, Dict[str, list]] = {
        (size, method): {"inference": [], "overhead": []} for size in sizes for method in methods
    }
    # Sizes one after the other (a size change reallocates the interpreter, which a
    # camera never does); the methods and photos interleaved within each size.
    for size, frames in sizes.items():
        for round_index in range(args.rounds + 2):  # two warm-up rounds
            for frame in frames:
                for method in methods:
                    getattr(net, method)(frame, internal_resolution=args.resolution)
                    t = net.last_timings
                    if round_index >= 2:
                        samples[(size, method)]["inference"].append(t.inference_ms)
                        samples[(size, method)]["overhead"].append(t.preprocess_ms + t.postprocess_ms)
    rows = []
    for (size, method), data in samples.items():
        inference = statistics.median(data["inference"])
        overhead = statistics.median(data["overhead"])
        target = TARGETS.get((size, method))
        rows.append({
            "frames": size, "method": method, "inference_ms": round(inference, 3),
            "pre_post_ms": round(overhead, 3), "ratio": round(overhead / inference, 3),
            "target": target, "meets_target": None if target is None else overhead / inference <= target,
        })
    load_s = time_import_and_load(net.info.path, args.threads)
    report = {
        "model": net.info.name, "backend": net.info.backend, "internal_resolution": args.resolution,
        "threads": args.threads, "rounds": args.rounds, "import_and_load_s": round(load_s, 3), "rows": rows,
    }
    return finish(report, args.json, [f"model {net.info.name} | {net.info.backend} | internal_resolution "
                                      f"{args.resolution} | {args.rounds} rounds x {len(photos)} photos"],
                  [Column("frames", "frames"), Column("method", "method"), Column("inference ms", "inference_ms", ".2f"),
                   Column("pre+post ms", "pre_post_ms", ".2f"), Column("ratio", "ratio", ".3f"),
                   Column("target", lambda r: None if r["target"] is None else f"<={r['target']:.2f}"),
                   Column("", lambda r: None if r["meets_target"] is None else "ok" if r["meets_target"] else "MISSED")],
                  rows, [f"import + load: {load_s:.3f} s (target < 1 s){'' if load_s < 1 else ' MISSED'}"])


if __name__ == "__main__":
    sys.exit(main())
