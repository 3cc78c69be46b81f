"""Cost of privacy effects relative to inference, in one run.

On the shared photos resized to 640x480 frames, with the default model at
"medium": the median inference time of `segment_person_parts` and, on the
same results in the same loop, the median time of `anonymize` for faces
(blur, pixelate, fill), persons and background, with their ratios. The
poses (face discs) are decoded before the effect is timed.

Target (rendering issue): anonymising faces costs at most 25% of inference.

    python benchmarks/privacy_overhead.py [--rounds 30] [--threads N] [--json]
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import List

from common import DEFAULT_IMAGES, Column, camera_frame, finish, parser_for, read_rgb

TARGET = 0.25
CASES = [("faces", "blur"), ("faces", "pixelate"), ("faces", "fill"), ("persons", "pixelate"), ("background", "blur")]


def main(argv: List[str] = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--images", default=str(DEFAULT_IMAGES))
    args = parser.parse_args(argv)

    import edge_bodypix
    from pathlib import Path

    net = edge_bodypix.load(model=args.model, num_threads=args.threads)
    frames = [camera_frame(read_rgb(p)) for p in sorted(Path(args.images).glob("*.jpg"))]
    inference: List[float] = []
    costs = {case: [] for case in CASES}
    for round_index in range(args.rounds + 2):
        for frame in frames:
            result = net.segment_person_parts(frame)
            len(result.all_poses)  # decode the (lazy) poses here: they belong to segmentation, not the effect
            if round_index < 2:
                continue
            inference.append(net.last_timings.inference_ms)
            for target, method in CASES:
                started = time.perf_counter()
                edge_bodypix.anonymize(frame, result, target, method)
                costs[(target, method)].append((time.perf_counter() - started) * 1e3)
    inf = statistics.median(inference)
    rows = []
    for (target, method), values in costs.items():
        cost = statistics.median(values)
        rows.append({"target": target, "method": method, "ms": round(cost, 3), "ratio": round(cost / inf, 3),
                     "meets_target": cost / inf <= TARGET if target == "faces" else None})
    report = {"model": net.info.name, "backend": net.info.backend, "frames": "640x480", "inference_ms": round(inf, 3),
              "rows": rows}
    return finish(report, args.json,
                  [f"model {net.info.name} | {net.info.backend} | 640x480 frames | inference {inf:.2f} ms (median)"],
                  [Column("target", "target"), Column("method", "method"), Column("ms", "ms", ".3f"),
                   Column("ratio", "ratio", ".3f"),
                   Column("", lambda r: None if r["meets_target"] is None
                          else "ok" if r["meets_target"] else f"MISSED (target <= {TARGET})")], rows)


if __name__ == "__main__":
    sys.exit(main())
