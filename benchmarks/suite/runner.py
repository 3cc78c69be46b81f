"""Run the suite: discover, time, score, report."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Optional, Sequence

import cv2

from edge_bodypix.imageio import read_rgb
from edge_bodypix.native_log import native_stderr_to_log

from . import accuracy, device, matrix, report, timing
from .progress import note, steps

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def _frames(images: Path):
    frames = []
    for path in sorted(images.glob("*.jpg")):
        frames.append(cv2.resize(read_rgb(path), (640, 480), interpolation=cv2.INTER_AREA))
    return frames


QUICK_ACCURACY_IMAGES = 6  # --quick scores person masks on the first 6 photos with people and 6 without


#: internal resolutions the accuracy matrix scores every model at (--quick: medium only)
ACCURACY_RESOLUTIONS = ("low", "medium", "high")
WEIGHTS_PRECISION = ("float", "quant2", "quant1")  # body-pix's checkpoints of one network, most precise first


def source_weights(name: str) -> str:
    """Which checkpoint of its network a converted model came from (`converted_name`'s `_from_` part)."""
    match = re.search(r"_from_(quant1|quant2)", name)
    return match.group(1) if match else "float"


def float_references(nets) -> Dict[str, object]:
    """Model name -> the float32 TFLite conversion it is judged against ("IoU vs float"): the one from the same
    checkpoint, else the most precise checkpoint of the same network (Coral's models, converted by Google from
    a float checkpoint not in ../shared, get the quant2 one). Float32 models have none."""
    floats = {(n.info.architecture, n.info.multiplier, n.info.output_stride, source_weights(n.info.name)): n
              for n in nets if n.info.quantisation == "float32" and n.info.name.startswith("bodypix_")}
    references = {}
    for net in nets:
        if "float" in net.info.quantisation:
            continue
        network = (net.info.architecture, net.info.multiplier, net.info.output_stride)
        own = source_weights(net.info.name)
        for weights in (own,) + tuple(w for w in WEIGHTS_PRECISION if w != own):
            if network + (weights,) in floats:
                references[net.info.name] = floats[network + (weights,)]
                break
    return references


def run(output_dir: str, quick: bool = False, models: Optional[Sequence[str]] = None,
        resolutions: Optional[Sequence[str]] = None, backends: Optional[Sequence[str]] = None,
        rounds: Optional[int] = None, threads: Optional[int] = None, images: Optional[str] = None,
        eval_dir: Optional[str] = None, argv=None, show_progress: bool = True,
        generated: bool = True) -> Dict[str, Path]:
    threads = threads or os.cpu_count() or 1
    rounds = rounds or (3 if quick else 20)
    frame_dir = Path(images) if images else SHARED / "images"
    evaluation = Path(eval_dir) if eval_dir else SHARED / "eval"
    variants = matrix.discover(models, backends, quick)
    note(f"{len(variants)} installed model variants, {'quick' if quick else 'full'} run", show_progress)
    loaded = timing.load_variants(variants, threads, show_progress)
    if generated and not models:
        from .generated_models import generated_variants, tensorflow_available

        have = [(i["net"].info.architecture, i["net"].info.multiplier, i["net"].info.output_stride) for i in loaded]
        from edge_bodypix.models import user_cache_dir

        cache = user_cache_dir().parent / "generated"  # built once, reused across runs, never in the report folder
        if tensorflow_available():
            note("timing-only models with generated weights (built with TensorFlow on the first run)", show_progress)
            with native_stderr_to_log():  # TensorFlow's import-time notices, at DEBUG
                built = generated_variants(cache, have, quick)
        else:
            note("generated-weights models need TensorFlow (pip install 'edge-bodypix[convert]'); skipped",
                 show_progress)
            built = []
        extra = timing.load_variants(built, threads, show_progress)
        for item in extra:
            item["generated"] = True
        loaded += extra
    if not loaded:
        raise SystemExit("no model could be loaded: see 'edge-bodypix models list'")
    frames = _frames(frame_dir)
    if not frames:
        raise SystemExit(f"no .jpg frames in {frame_dir}")
    sizes = matrix.parse_resolutions(resolutions, quick)
    methods = ("segment_person", "segment_person_parts") if quick else timing.METHODS
    latency = timing.measure(loaded, frames, sizes, rounds, methods, show_progress)
    generated_names = {i["net"].info.name for i in loaded if i.get("generated")}
    for row in latency:
        row["generated_weights"] = row["model"] in generated_names
    scores = []
    person_set, keypoint_set = evaluation / "coco-person-dev", evaluation / "coco-keypoints-dev"
    limit = QUICK_ACCURACY_IMAGES if quick else None
    scored = [item for item in loaded if not item.get("generated")]  # random weights: timing only
    floats = float_references([item["net"] for item in scored])
    for item in steps(scored, "accuracy", lambda i: i["net"].info.name, show_progress):
        net = item["net"]
        reference = floats.get(net.info.name)
        for resolution in ("medium",) if quick else ACCURACY_RESOLUTIONS:
            entry = {"model": net.info.name, "resolution": resolution}
            if person_set.is_dir():
                entry.update(accuracy.person_masks(net, person_set, limit=limit, resolution=resolution))
            if keypoint_set.is_dir() and not quick:
                entry["keypoints"] = accuracy.keypoints_ap(net, keypoint_set, resolution=resolution)
            if reference is not None and person_set.is_dir():
                entry["iou_vs_float"] = accuracy.agreement(net, reference, person_set, limit=limit,
                                                           resolution=resolution)
            scores.append(entry)
    results = {
        "device": device.device_info(argv), "frames": f"{len(frames)} photos resized to 640x480",
        "threads": threads, "rounds": rounds, "quick": quick,
        "models": [{"model": i["net"].info.name, "backend": i["net"].info.backend, "size_bytes": i["size_bytes"],
                    "load_s": round(i["load_s"], 3), "rss_added_mb": round(i["rss_added_mb"], 1),
                    "generated_weights": bool(i.get("generated"))} for i in loaded],
        "latency": latency, "accuracy": scores, "peak_rss_mb": timing.peak_rss_mb(),
    }
    return report.write_results(results, Path(output_dir))
