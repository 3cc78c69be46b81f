"""Cost of multi-person decoding and instance masks relative to inference, in one run.

For the 5-person photo (1440x1080) and its 640x480 frame at "medium", prints
the median inference time and, measured on the same frames in the same loop,
the median time of (a) pose decoding plus instance masks (everything
`segment_multi_person` adds after the person mask) and (b) all post-processing
of `segment_multi_person`, with their ratios to inference.

Target (multi-person issue): (a) <= 30% of inference for the 5-person photo.

    python benchmarks/multi_person_overhead.py [--rounds 30] [--threads N] [--json]
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import List

from common import DEFAULT_IMAGES, Column, camera_frame, finish, parser_for, read_rgb

TARGET = 0.30


def main(argv: List[str] = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--image", default=str(DEFAULT_IMAGES / "pexels-fauxels-3184419.jpg"))
    args = parser.parse_args(argv)

    import edge_bodypix
    from edge_bodypix.adapters.segmentation import person_mask

    net = edge_bodypix.load(model=args.model, num_threads=args.threads)
    photo = read_rgb(args.image)
    rows = []
    for label, image in (("1440x1080", photo), ("640x480", camera_frame(photo))):
        inference, total, mask_only = [], [], []
        for round_index in range(args.rounds + 2):
            people = net.segment_multi_person(image)
            t = net.last_timings
            raw = net.infer(image)  # same geometry: time the person mask alone
            started = time.perf_counter()
            person_mask(raw.outputs["segments"][:, :, 0], raw.plan.maps, 0.7)
            mask_ms = (time.perf_counter() - started) * 1e3
            if round_index >= 2:
                inference.append(t.inference_ms)
                total.append(t.postprocess_ms)
                mask_only.append(mask_ms)
        inf = statistics.median(inference)
        post = statistics.median(total)
        decode = statistics.median(a - b for a, b in zip(total, mask_only))
        rows.append({
            "frames": label, "people": len(people), "inference_ms": round(inf, 3),
            "decode_and_instances_ms": round(decode, 3), "decode_ratio": round(decode / inf, 3),
            "postprocess_ms": round(post, 3), "postprocess_ratio": round(post / inf, 3),
            "meets_target": decode / inf <= TARGET,
        })
    report = {"model": net.info.name, "backend": net.info.backend, "threads": args.threads,
              "instance_factor": net.instance_factor, "rounds": args.rounds, "rows": rows}
    return finish(report, args.json, [f"model {net.info.name} | {net.info.backend} | medium | {args.rounds} rounds | "
                                      f"instance lattice x{net.instance_factor} per grid cell"],
                  [Column("frames", "frames"), Column("people", "people", "d"),
                   Column("inference ms", "inference_ms", ".2f"),
                   Column("decode+inst ms", "decode_and_instances_ms", ".2f"), Column("ratio", "decode_ratio", ".3f"),
                   Column("all post ms", "postprocess_ms", ".2f"), Column("ratio", "postprocess_ratio", ".3f"),
                   Column("", lambda r: "ok" if r["meets_target"] else f"MISSED (target <= {TARGET:.2f})")], rows)


if __name__ == "__main__":
    sys.exit(main())
