"""compare.py ARM.npz X86.npz TESTS_DIR -> JSON: mask IoU/equality, where the difference comes from, and
whether it can change a privacy decision. Exits 1 when the person mask differs by more than its outline moved
by one model-input pixel (the suite's `outline_displacement`, from TESTS_DIR/conftest.py), or when a face
pixel of either machine lies beyond the privacy margin of the other's face region (the margin no longer
covers the difference)."""
import json
import sys

import cv2
import numpy as np

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from conftest import iou, outline_displacement  # noqa: E402


def farthest(x, y, limit=64):
    """The smallest disc dilation of either mask that covers the other (the largest local difference)."""
    x, y = x.astype(bool).view(np.uint8), y.astype(bool).view(np.uint8)
    for k in range(limit + 1):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        if not (y > cv2.dilate(x, kernel)).any() and not (x > cv2.dilate(y, kernel)).any():
            return k
    return limit + 1


input_px = int(np.ceil(a["image"].shape[1] / a["tensor"].shape[1]))  # image pixels per model-input pixel
rep = {"person_iou": round(iou(a["person"], b["person"]), 5),
       "person_equal_fraction": round(float((a["person"] == b["person"]).mean()), 5),
       "person_outline_displacement_px": outline_displacement(b["person"], a["person"]), "bound_px": input_px,
       "person_farthest_difference_px": farthest(a["person"], b["person"]),
       "parts_equal_fraction": round(float((a["parts"] == b["parts"]).mean()), 5),
       "face_region_farthest_difference_px": farthest(a["faces"], b["faces"]),
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
if rep["face_region_farthest_difference_px"] > rep["privacy_margin_px"]:
    bad.append(f"face regions differ by up to {rep['face_region_farthest_difference_px']} px, beyond the "
               f"{rep['privacy_margin_px']} px privacy margin")
if bad:
    print("compare: FAILED: " + "; ".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
