"""Keypoint accuracy against human ground truth: COCO OKS AP on ../shared/eval/coco-keypoints-dev.

Runs `segment_person` (whose `all_poses` are body-pix's multi-person poses)
on every image of the COCO-format keypoint set at a few internal resolutions
and scores the poses with pycocotools (`pip install pycocotools`). The images
come from COCO's training split, which PoseNet may have seen: read the
numbers as relative (resolution against resolution, model against model).

    python benchmarks/keypoint_accuracy.py [--resolutions low medium high full] [--json]
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import List

from common import parser_for, SHARED, read_rgb

DEFAULT_SET = SHARED / "eval" / "coco-keypoints-dev"
# COCO's keypoint order and names, and body-pix's for the same joints
COCO_FROM_BODYPIX = [
    "nose", "leftEye", "rightEye", "leftEar", "rightEar", "leftShoulder", "rightShoulder", "leftElbow",
    "rightElbow", "leftWrist", "rightWrist", "leftHip", "rightHip", "leftKnee", "rightKnee", "leftAnkle", "rightAnkle",
]


def detections(net, images, image_dir: Path, resolution) -> List[dict]:
    results = []
    for info in images:
        image = read_rgb(image_dir / info["file_name"])
        for pose in net.segment_person(image, internal_resolution=resolution).all_poses:
            by_name = {kp.part: kp for kp in pose.keypoints}
            flat = []
            for name in COCO_FROM_BODYPIX:
                kp = by_name[name]
                flat += [kp.position[0], kp.position[1], kp.score]
            results.append({"image_id": info["id"], "category_id": 1, "keypoints": flat, "score": pose.score})
    return results


def evaluate(ground_truth_file: Path, results: List[dict]) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(ground_truth_file))
        if not results:
            return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR": 0.0}
        found = truth.loadRes(results)
        evaluation = COCOeval(truth, found, "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = evaluation.stats
    return {"AP": float(stats[0]), "AP50": float(stats[1]), "AP75": float(stats[2]), "AR": float(stats[5])}


def main(argv: List[str] = None) -> int:
    parser = parser_for(__doc__)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="folder with person_keypoints.json and images/")
    parser.add_argument("--resolutions", nargs="+", default=["low", "medium", "high", "full"])
    args = parser.parse_args(argv)
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        raise SystemExit("pycocotools is needed: pip install pycocotools")

    import edge_bodypix

    net = edge_bodypix.load(model=args.model)
    truth_file = args.set / "person_keypoints.json"
    images = json.loads(truth_file.read_text())["images"]
    rows = []
    for resolution in args.resolutions:
        value = resolution if resolution in ("low", "medium", "high", "full") else float(resolution)
        scores = evaluate(truth_file, detections(net, images, args.set / "images", value))
        rows.append({"internal_resolution": resolution, **{k: round(v, 4) for k, v in scores.items()}})
    report = {"model": net.info.name, "images": len(images), "rows": rows}
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"model {net.info.name} | {len(images)} images of {args.set.name} (COCO train images: optimistic)")
    print(f"{'resolution':12} {'OKS AP':>7} {'AP50':>7} {'AP75':>7} {'AR':>7}")
    for r in rows:
        print(f"{r['internal_resolution']:12} {r['AP']:7.3f} {r['AP50']:7.3f} {r['AP75']:7.3f} {r['AR']:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
