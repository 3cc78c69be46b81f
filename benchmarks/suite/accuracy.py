"""Accuracy next to speed: person masks and keypoints against human-drawn COCO ground truth."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np

from edge_bodypix.masks import mask_iou
from edge_bodypix.imageio import read_rgb


def person_masks(net, dataset: Path, limit: Optional[int] = None, resolution="medium") -> Dict[str, object]:
    """Mean person-mask IoU on COCO photos with people; false positives on photos without any."""
    excluded = set()
    exclude_file = dataset / "exclude_known_unlabelled_crowd.txt"
    if exclude_file.is_file():
        excluded = {line.strip() for line in exclude_file.read_text().splitlines() if line.strip()}
    images = sorted(p for p in (dataset / "images").glob("*.jpg") if p.stem not in excluded)[:limit]
    ious = []
    for path in images:
        truth = cv2.imread(str(dataset / "masks" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE) > 0
        predicted = net.segment_person(read_rgb(path), internal_resolution=resolution).data.astype(bool)
        ious.append(mask_iou(truth, predicted))
    negatives = sorted((dataset / "negatives" / "images").glob("*.jpg"))[:limit]
    fractions = [float(net.segment_person(read_rgb(p), internal_resolution=resolution).data.mean()) for p in negatives]
    return {
        "images": len(ious), "person_iou_mean": round(float(np.mean(ious)), 4) if ious else None,
        "negatives": len(fractions),
        "false_positive_pixel_rate": round(float(np.mean(fractions)), 5) if fractions else None,
        "false_positive_images": round(float(np.mean([f > 0.01 for f in fractions])), 4) if fractions else None,
        "excluded": sorted(excluded),
    }


def keypoints_ap(net, dataset: Path, resolution="medium", detailed: bool = False) -> Optional[Dict[str, float]]:
    """COCO OKS AP of the decoded poses (None without pycocotools); `detailed` adds AP75 and AR."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        return None
    truth_file = dataset / "person_keypoints.json"
    truth_data = json.loads(truth_file.read_text())
    order = ["nose", "leftEye", "rightEye", "leftEar", "rightEar", "leftShoulder", "rightShoulder", "leftElbow",
             "rightElbow", "leftWrist", "rightWrist", "leftHip", "rightHip", "leftKnee", "rightKnee", "leftAnkle",
             "rightAnkle"]
    results: List[dict] = []
    for info in truth_data["images"]:
        image = read_rgb(dataset / "images" / info["file_name"])
        for pose in net.segment_person(image, internal_resolution=resolution).all_poses:
            parts = {kp.part: kp for kp in pose.keypoints}
            flat = [v for name in order for v in (*parts[name].position, parts[name].score)]
            results.append({"image_id": info["id"], "category_id": 1, "keypoints": flat, "score": pose.score})
    if not results:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR": 0.0} if detailed else {"AP": 0.0, "AP50": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(truth_file))
        evaluation = COCOeval(truth, truth.loadRes(results), "keypoints")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    scores = {"AP": round(float(evaluation.stats[0]), 4), "AP50": round(float(evaluation.stats[1]), 4)}
    if detailed:
        scores.update(AP75=round(float(evaluation.stats[2]), 4), AR=round(float(evaluation.stats[5]), 4))
    return scores


def agreement(net, reference, dataset: Path, limit: Optional[int] = None, resolution="medium") -> float:
    """Mean person-mask IoU of a model against another (its float original) on the COCO photos."""
    ious = []
    for path in sorted((dataset / "images").glob("*.jpg"))[:limit]:
        image = read_rgb(path)
        a = net.segment_person(image, internal_resolution=resolution).data.astype(bool)
        b = reference.segment_person(image, internal_resolution=resolution).data.astype(bool)
        ious.append(mask_iou(a, b))
    return round(float(np.mean(ious)), 4)
