"""How closely a converted model follows its float source, and how fast each runs here.

Both run through edge-bodypix's own pipeline on the same test images at
"medium": person-mask IoU, part agreement on pixels both call person,
keypoint position error of matched confident keypoints, mean absolute logit
error of the person and part heads, file sizes, and median inference times
measured interleaved in one run on the first 10 of them (with the host they were measured on).
"""

from __future__ import annotations

import os
import statistics
from typing import Dict, List, Sequence

import numpy as np

from edge_bodypix.machine import host_description
from edge_bodypix.options import SegmentationOptions
from edge_bodypix.masks import mask_iou


def _keypoint_errors(ours, theirs, min_score: float = 0.5) -> List[float]:
    """Distances of confident reference keypoints to the same keypoints of the best-matching converted pose."""
    errors = []
    for pose in theirs:
        confident = [i for i, kp in enumerate(pose.keypoints) if kp.score >= min_score]
        if not confident or not ours:
            continue
        reference = np.array([pose.keypoints[i].position for i in confident])

        def distances(other, confident=confident, reference=reference):
            return np.linalg.norm(np.array([other.keypoints[i].position for i in confident]) - reference, axis=1)

        errors += distances(min(ours, key=lambda other: distances(other).mean())).tolist()
    return errors


LATENCY_IMAGES = 10  # latency medians come from the first 10 test images x `rounds` (accuracy uses them all)
PERSON_MIN_AREA = 0.005  # persons (connected regions of the float mask) this share of the frame or more count
PERSON_LOST_BELOW = 0.3  # a person is lost when the converted mask covers less than this share of it


def person_coverage(reference_mask: np.ndarray, converted_mask: np.ndarray) -> List[float]:
    """For every person of the float mask covering at least PERSON_MIN_AREA of the frame (a connected
    region), the share of it the converted mask covers. A privacy output cares about each person, not
    the frame's mean: one small person vanishing is a leak whatever the IoU."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(reference_mask.astype(np.uint8), connectivity=8)
    shares = []
    for k in range(1, count):
        if stats[k, cv2.CC_STAT_AREA] >= PERSON_MIN_AREA * reference_mask.size:
            shares.append(float(converted_mask[labels == k].mean()))
    return shares


NEAR_THRESHOLD = 3.0  # logits this close to the person threshold's decide the mask's edge


def segment_error_near_threshold(reference, converted, images: Sequence[np.ndarray],
                                 threshold: float = SegmentationOptions.segmentation_threshold) -> float:
    """RMS person-logit error of `converted` against `reference` at "medium", over the cells whose float
    logit lies within NEAR_THRESHOLD of the threshold's (where an error moves the mask's edge). Smoother
    than per-photo IoU, which a weak person barely above the threshold swings from one change to the next."""
    edge = float(np.log(threshold / (1 - threshold)))
    squared, cells = 0.0, 0
    for image in images:
        ours = reference.infer(image, "medium", ("segments",)).outputs["segments"]
        theirs = converted.infer(image, "medium", ("segments",)).outputs["segments"]
        near = np.abs(ours - edge) < NEAR_THRESHOLD
        squared += float(((theirs - ours)[near].astype(np.float64) ** 2).sum())
        cells += int(near.sum())
    return float(np.sqrt(squared / cells)) if cells else 0.0


def _size(path: str) -> int:
    """A model's size on disk; for a tfjs model.json, with its weight shards."""
    if path.endswith(".json"):
        import json

        folder = os.path.dirname(path)
        with open(path) as handle:
            shards = [p for group in json.load(handle)["weightsManifest"] for p in group["paths"]]
        return os.path.getsize(path) + sum(os.path.getsize(os.path.join(folder, s)) for s in shards)
    return os.path.getsize(path)


def fidelity_report(reference, converted, images: Sequence[np.ndarray], names: Sequence[str],
                    rounds: int = 5) -> Dict[str, object]:
    """Compare two loaded `BodyPix` networks (reference: the float source) on RGB test images."""
    ious, agreements, keypoint_errors, segment_mae, part_mae = [], [], [], [], []
    person_ious, coverage = [], []
    per_image = []
    for image, name in zip(images, names):
        ref = reference.segment_person_parts(image)
        out = converted.segment_person_parts(image)
        iou = mask_iou(ref.data >= 0, out.data >= 0)
        shares = person_coverage(ref.data >= 0, out.data >= 0)
        coverage += shares
        if (ref.data >= 0).mean() >= PERSON_MIN_AREA:  # IoU says little about a mask of a few pixels
            person_ious.append(iou)
        both = (ref.data >= 0) & (out.data >= 0)
        agreement = float((ref.data[both] == out.data[both]).mean()) if both.any() else 1.0
        errors = _keypoint_errors(out.all_poses, ref.all_poses)
        ref_raw = reference.infer(image, "medium", ("segments", "part_heatmaps")).outputs
        out_raw = converted.infer(image, "medium", ("segments", "part_heatmaps")).outputs
        seg = float(np.abs(ref_raw["segments"] - out_raw["segments"]).mean())
        parts = float(np.abs(ref_raw["part_heatmaps"] - out_raw["part_heatmaps"]).mean())
        ious.append(iou)
        agreements.append(agreement)
        keypoint_errors += errors
        segment_mae.append(seg)
        part_mae.append(parts)
        per_image.append({"image": name, "person_iou": round(iou, 4), "part_agreement": round(agreement, 4),
                          "segment_logit_mae": round(seg, 4), "persons": len(shares),
                          "persons_lost": sum(1 for c in shares if c < PERSON_LOST_BELOW)})
    times = {"reference": [], "converted": []}
    for _ in range(rounds):
        for image in images[:LATENCY_IMAGES]:
            for key, net in (("reference", reference), ("converted", converted)):
                net.segment_person(image)
                times[key].append(net.last_timings.inference_ms)
    reference_ms = statistics.median(times["reference"])
    converted_ms = statistics.median(times["converted"])
    return {
        "test_images": len(images),
        "person_iou_vs_float": {"mean": round(float(np.mean(ious)), 4), "min": round(float(np.min(ious)), 4)},
        # the targets' measures: IoU over images whose float mask covers >= 0.5% of the frame, and persons
        "person_iou_vs_float_where_persons": {
            "mean": round(float(np.mean(person_ious)), 4) if person_ious else None,
            "min": round(float(np.min(person_ious)), 4) if person_ious else None, "images": len(person_ious)},
        "persons": {"count": len(coverage), "lost": sum(1 for c in coverage if c < PERSON_LOST_BELOW),
                    "min_coverage": round(min(coverage), 4) if coverage else None,
                    "definition": f"connected regions of the float mask >= {PERSON_MIN_AREA:.1%} of the frame; lost "
                                  f"when the converted mask covers < {PERSON_LOST_BELOW:.0%} of one"},
        "part_agreement_vs_float": {"mean": round(float(np.mean(agreements)), 4),
                                    "min": round(float(np.min(agreements)), 4)},
        "keypoint_error_px": {"median": round(float(np.median(keypoint_errors)), 2) if keypoint_errors else None,
                              "p90": round(float(np.percentile(keypoint_errors, 90)), 2) if keypoint_errors else None},
        "logit_mae": {"segments": round(float(np.mean(segment_mae)), 4),
                      "part_heatmaps": round(float(np.mean(part_mae)), 4)},
        "size_bytes": {"reference": _size(reference.info.path),
                       "converted": os.path.getsize(converted.info.path)},
        "latency_ms": {"reference": round(reference_ms, 3), "converted": round(converted_ms, 3),
                       "converted_over_reference": round(converted_ms / reference_ms, 3),
                       "reference_backend": reference.info.backend, "converted_backend": converted.info.backend,
                       "host": host_description(),
                       "note": "measured on this host only; on ARM (Raspberry Pi) int8 usually runs faster than "
                               "float32, on x86 LiteRT runs them about alike"},
        "images": per_image,
    }


def format_report(report: Dict[str, object]) -> str:
    """A short readable table of a fidelity report."""
    p, q, k, m = (report["person_iou_vs_float"], report["part_agreement_vs_float"], report["keypoint_error_px"],
                  report["logit_mae"])
    latency = report["latency_ms"]
    lines = [
        f"test images            {report['test_images']}",
        f"person IoU vs float    mean {p['mean']:.4f}  min {p['min']:.4f}",
        f"  where persons >= 0.5% mean {report['person_iou_vs_float_where_persons']['mean']}  "
        f"min {report['person_iou_vs_float_where_persons']['min']}",
        f"persons (>= 0.5%)      {report['persons']['count']}, lost {report['persons']['lost']}, "
        f"least covered {report['persons']['min_coverage']}",
        f"part agreement         mean {q['mean']:.4f}  min {q['min']:.4f}",
        f"keypoint error (px)    median {k['median']}  p90 {k['p90']}",
        f"logit MAE              segments {m['segments']:.4f}  parts {m['part_heatmaps']:.4f}",
        f"size (bytes)           float {report['size_bytes']['reference']}  converted {report['size_bytes']['converted']}",
        f"inference (ms)         float {latency['reference']:.2f} ({latency['reference_backend']})  "
        f"converted {latency['converted']:.2f} "
        f"({latency['converted_backend']})  ratio {latency['converted_over_reference']:.3f} on {latency['host']}",
    ]
    return "\n".join(lines)
