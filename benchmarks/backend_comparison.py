"""Inference backends side by side in one run: LiteRT against onnxruntime (CPU here; CUDA/TensorRT on a Jetson).

For each (backend, model) it can load, interleaved over the shared photos
resized to 640x480 at "medium": median inference, pre-processing and
post-processing of `segment_person`, and the inference ratio to the first
row. The rows use different networks unless a float TFLite of the ONNX
weights is installed (the converters make one), so compare backends on the
same model name only.

    python benchmarks/backend_comparison.py [--rounds 30] [--threads N] [--json]
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import List

from common import DEFAULT_IMAGES, Column, camera_frame, finish, parser_for, read_rgb

CANDIDATES = [
    ("tflite", None),
    ("tflite", "bodypix_mobilenet_v1_050_16_float32"),
    ("onnxruntime", "MobileNetV1-x050-stride16"),
    ("onnxruntime", "MobileNetV1-x050-stride8"),
]


def main(argv: List[str] = None) -> int:
    parser = parser_for(__doc__)
    args = parser.parse_args(argv)

    import edge_bodypix

    nets = []
    for backend, model in CANDIDATES:
        try:
            nets.append((backend, edge_bodypix.load(model=model, backend=backend, num_threads=args.threads)))
        except edge_bodypix.EdgeBodyPixError as exc:
            print(f"skipped {backend} {model or 'default'}: {exc}", file=sys.stderr)
    frames = [camera_frame(read_rgb(p)) for p in sorted(Path(DEFAULT_IMAGES).glob("*.jpg"))]
    samples = {id(net): {"inference": [], "pre": [], "post": []} for _, net in nets}
    for round_index in range(args.rounds + 2):
        for frame in frames:
            for _, net in nets:
                net.segment_person(frame)
                if round_index >= 2:
                    t = net.last_timings
                    samples[id(net)]["inference"].append(t.inference_ms)
                    samples[id(net)]["pre"].append(t.preprocess_ms)
                    samples[id(net)]["post"].append(t.postprocess_ms)
    rows = []
    for _, net in nets:
        s = samples[id(net)]
        rows.append({"backend": net.info.backend, "model": net.info.name,
                     "inference_ms": round(statistics.median(s["inference"]), 3),
                     "preprocess_ms": round(statistics.median(s["pre"]), 3),
                     "postprocess_ms": round(statistics.median(s["post"]), 3)})
    for row in rows:
        row["inference_ratio_to_first"] = round(row["inference_ms"] / rows[0]["inference_ms"], 3)
    report = {"frames": "640x480", "threads": args.threads, "rows": rows}
    return finish(report, args.json, [f"640x480 frames, medium, {args.threads} threads, {args.rounds} rounds interleaved"],
                  [Column("backend", "backend"), Column("model", "model"), Column("infer ms", "inference_ms", ".2f"),
                   Column("pre ms", "preprocess_ms", ".2f"), Column("post ms", "postprocess_ms", ".2f"),
                   Column("vs first", "inference_ratio_to_first", ".3f")], rows)


if __name__ == "__main__":
    sys.exit(main())
