"""compare.py ARM.npz X86.npz -> JSON: mask IoU/equality, where the difference comes from, and whether it
can change a privacy decision. Exits 1 when the person mask's outline moves by more than one model-input
pixel, or the face region's by more than the privacy margin (the margin would no longer cover it)."""
import json
import sys

import cv2
import numpy as np

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])


def iou(x, y):
    x, y = x.astype(bool), y.astype(bool)
    union = np.logical_or(x, y).sum()
    return float(np.logical_and(x, y).sum() / union) if union else 1.0


def displacement(x, y, limit=64):
    """Pixels the outline of either mask must move (a disc dilation) to cover the other."""
    x, y = x.astype(bool).view(np.uint8), y.astype(bool).view(np.uint8)
    for k in range(limit + 1):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        if not (y > cv2.dilate(x, kernel)).any() and not (x > cv2.dilate(y, kernel)).any():
            return k
    return limit + 1


input_px = int(np.ceil(a["image"].shape[1] / a["tensor"].shape[1]))  # image pixels per model-input pixel
rep = {"person_iou": round(iou(a["person"], b["person"]), 5),
       "person_equal_fraction": round(float((a["person"] == b["person"]).mean()), 5),
       "person_outline_displacement_px": displacement(a["person"], b["person"]), "bound_px": input_px,
       "parts_equal_fraction": round(float((a["parts"] == b["parts"]).mean()), 5),
       "face_region_displacement_px": displacement(a["faces"], b["faces"]),
       "privacy_margin_px": float(a["margin"]),
       "decoded_image_equal": bool(np.array_equal(a["image"], b["image"])),
       "input_tensor_equal_fraction": round(float((a["tensor"] == b["tensor"]).mean()), 6),
       "input_tensor_max_difference": int(np.abs(a["tensor"].astype(int) - b["tensor"].astype(int)).max()),
       "raw_equal_fraction": {k[4:]: round(float((a[k] == b[k]).mean()), 4) for k in a.files if k.startswith("raw_")}}
same = [k for k in a.files if k.startswith("same_")]
if same:
    rep["inference_on_identical_input_bit_exact"] = all(np.array_equal(a[k], b["raw_" + k[5:]]) for k in same)
print(json.dumps(rep))
bad = []
if rep["person_outline_displacement_px"] > input_px:
    bad.append(f"person outline moved {rep['person_outline_displacement_px']} px > {input_px} px (1 model-input pixel)")
if rep["face_region_displacement_px"] > rep["privacy_margin_px"]:
    bad.append(f"face region moved {rep['face_region_displacement_px']} px, beyond the {rep['privacy_margin_px']} px "
               "privacy margin")
if bad:
    print("compare: FAILED: " + "; ".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
