"""Keypoint accuracy against human ground truth: COCO OKS AP on ../shared/eval/coco-keypoints-dev.

Runs `segment_person` (whose `all_poses` are body-pix's multi-person poses)
on every image of the COCO-format keypoint set at a few internal resolutions
and scores the poses with pycocotools (`pip install pycocotools`). The images
come from COCO's training split, which PoseNet may have seen: read the
numbers as relative (resolution against resolution, model against model).

    python benchmarks/keypoint_accuracy.py [--resolutions low medium high full] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List

from common import SHARED, Column, finish, parser_for

DEFAULT_SET = SHARED / "eval" / "coco-keypoints-dev"


def main(argv: List[str] = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="folder with person_keypoints.json and images/")
    parser.add_argument("--resolutions", nargs="+", default=["low", "medium", "high", "full"])
    args = parser.parse_args(argv)
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        raise SystemExit("pycocotools is needed: pip install pycocotools") from None

    import edge_bodypix

    net = edge_bodypix.load(model=args.model)
    from edge_bodypix.benchsuite.accuracy import keypoints_ap

    images = json.loads((args.set / "person_keypoints.json").read_text())["images"]
    rows = []
    for resolution in args.resolutions:
        value = resolution if resolution in ("low", "medium", "high", "full") else float(resolution)
        scores = keypoints_ap(net, args.set, value, detailed=True)
        rows.append({"internal_resolution": resolution, **scores})
    report = {"model": net.info.name, "images": len(images), "rows": rows}
    return finish(report, args.json,
                  [f"model {net.info.name} | {len(images)} images of {args.set.name} (COCO train images: optimistic)"],
                  [Column("resolution", "internal_resolution"), Column("OKS AP", "AP", ".3f"),
                   Column("AP50", "AP50", ".3f"), Column("AP75", "AP75", ".3f"), Column("AR", "AR", ".3f")], rows)


if __name__ == "__main__":
    sys.exit(main())
