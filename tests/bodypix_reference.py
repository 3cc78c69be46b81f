"""Run the official body-pix 2.2.1 (Node.js, tests/reference/) on raw outputs of our network.

The reference gets exactly the tensors our interpreter produced, so any
difference in the results comes from pre- or post-processing alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
SCRIPT = REFERENCE_DIR / "bodypix_reference.js"

# body-pix BaseModel.predict() result names for our roles (heatmaps get a sigmoid there).
_ROLE_NAMES = {
    "segments": "segmentation",
    "part_heatmaps": "partHeatmaps",
    "heatmaps": "heatmapScores",
    "short_offsets": "offsets",
    "displacement_fwd": "displacementFwd",
    "displacement_bwd": "displacementBwd",
    "long_offsets": "longOffsets",
}


def reference_unavailable_reason() -> Optional[str]:
    """Why the reference cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (REFERENCE_DIR / "node_modules" / "@tensorflow-models" / "body-pix").is_dir():
        return "reference packages missing: run 'npm ci --prefix tests/reference'"
    return None


@dataclass
class ReferenceResult:
    data: np.ndarray
    summary: dict


@dataclass
class ReferenceRun:
    results: Dict[str, ReferenceResult]
    resized_input: np.ndarray


def run_reference(
    image: np.ndarray, outputs: Dict[str, np.ndarray], output_stride: int,
    calls: List[dict], workdir: Path, input_size: tuple,
) -> ReferenceRun:
    """Run body-pix methods (`calls`: {method, config, out}) on `image` with our raw `outputs`."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "image.bin").write_bytes(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
    tensors = {}
    for role, name in _ROLE_NAMES.items():
        if role not in outputs:
            continue
        values = outputs[role].astype(np.float32)
        if role == "heatmaps":
            values = 1.0 / (1.0 + np.exp(-values))
        (workdir / f"{name}.bin").write_bytes(np.ascontiguousarray(values).tobytes())
        tensors[name] = {"path": f"{name}.bin", "shape": list(values.shape)}
    job = {
        "image": {"path": "image.bin", "height": int(image.shape[0]), "width": int(image.shape[1])},
        "outputStride": int(output_stride),
        "tensors": tensors,
        "calls": calls,
        "resizedInput": "resized.bin",
    }
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job))
    completed = subprocess.run(
        ["node", str(SCRIPT), str(job_file)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"body-pix reference failed:\n{completed.stderr}")
    results = {}
    for call in calls:
        summary = json.loads((workdir / f"{call['out']}.json").read_text())
        dtype = np.int32 if call["method"].endswith("Parts") else np.uint8
        shape = (summary["height"], summary["width"])
        if "people" in summary:  # multi-person: (people, H, W)
            shape = (summary["people"],) + shape
        data = np.fromfile(workdir / f"{call['out']}.bin", dtype=dtype).reshape(shape)
        results[call["out"]] = ReferenceResult(data, summary)
    resized = np.fromfile(workdir / "resized.bin", dtype=np.float32).reshape(input_size[0], input_size[1], 3)
    return ReferenceRun(results, resized)


def run_render_reference(calls: List[dict], segmentations: List[np.ndarray], workdir: Path) -> Dict[str, np.ndarray]:
    """Run body-pix mask helpers (`toMask`, `toColoredPartMask`) on segmentation arrays; RGBA by call `out`.

    `calls`: {function, indices (into segmentations), list, args, out}.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    specs = []
    for i, data in enumerate(segmentations):
        dtype = "int32" if data.dtype == np.int32 else "uint8"
        (workdir / f"seg{i}.bin").write_bytes(np.ascontiguousarray(data).tobytes())
        specs.append({"path": f"seg{i}.bin", "dtype": dtype, "height": int(data.shape[0]), "width": int(data.shape[1])})
    render = [{"function": c["function"], "segmentations": [specs[i] for i in c["indices"]],
               "list": c.get("list", False), "args": c.get("args", []), "out": c["out"]} for c in calls]
    job_file = workdir / "render.json"
    job_file.write_text(json.dumps({"render": render}))
    completed = subprocess.run(["node", str(SCRIPT), str(job_file)], capture_output=True, text=True, timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"body-pix reference failed:\n{completed.stderr}")
    shape = segmentations[0].shape
    return {c["out"]: np.fromfile(workdir / f"{c['out']}.bin", dtype=np.uint8).reshape(shape[0], shape[1], 4)
            for c in calls}
