"""`edge-bodypix segment IMAGE...`: write person masks (and coloured part maps) for image files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Set

import cv2
import numpy as np

from ..backends.registry import backend_names
from .common import exit_code, fail, internal_resolution_arg, positive_int_arg, unit_interval_arg
from ..errors import EdgeBodyPixError
from ..imageio import read_rgb
from ..results import PersonSegmentation
from ..privacy import anonymize
from ..privacy.effects import PRIVACY_EFFECTS, PrivacyEffect
from ..rendering import (
    draw_bokeh_effect,
    draw_mask,
    draw_pixelated_mask,
    draw_poses,
    to_colored_part_mask,
    to_mask,
)

def _privacy(effect: PrivacyEffect):
    """The privacy effect as a drawing: faces from the part result, persons and background from the mask."""
    return lambda image, person, parts: anonymize(image, parts if effect.target == "faces" else person,
                                                  effect.target, effect.method)


#: --effect names: what each draws from the image and its person / part results (the privacy
#: effects with the daemon's names, from edge_bodypix.privacy.effects).
EFFECTS = {
    "mask": lambda image, person, parts: draw_mask(image, to_mask(person)),
    "parts": lambda image, person, parts: draw_mask(image, to_colored_part_mask(parts)),
    "pixelated": lambda image, person, parts: draw_pixelated_mask(image, to_colored_part_mask(parts)),
    "bokeh": lambda image, person, parts: draw_bokeh_effect(image, person),
    **{name: _privacy(effect) for name, effect in PRIVACY_EFFECTS.items()},
}


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "segment", help="segment image files into person masks and body parts",
        description="Write <name>.mask.png (person white) and, with --parts, <name>.parts.png "
        "(body-pix's rainbow colours, white background) for each image, and print a summary.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    parser.add_argument("--model", help="catalogue name or .tflite path (default: the catalogue default)")
    parser.add_argument("--models-dir", action="append", metavar="DIR", help="extra directory to search for models")
    parser.add_argument("--backend", choices=backend_names(), default="auto",
                        help="inference library (default auto: the model file's format)")
    parser.add_argument("--parts", action="store_true", help="also write the coloured body-part map")
    parser.add_argument("--multi", action="store_true",
                        help="one mask (and part map) per person: <name>.person<N>.mask.png")
    parser.add_argument("--draw-poses", action="store_true", help="write <name>.poses.png with keypoints and skeletons")
    parser.add_argument("--effect", action="append", choices=sorted(EFFECTS), default=[], metavar="EFFECT",
                        help=f"also write <name>.<effect>.png; one of {', '.join(EFFECTS)} (repeatable)")
    parser.add_argument("--threshold", type=unit_interval_arg, default=0.7, metavar="T",
                        help="segmentation threshold in [0, 1] (default 0.7)")
    parser.add_argument("--internal-resolution", type=internal_resolution_arg, default="medium", metavar="R",
                        help="low, medium, high, full or a number in [0.1, 2.0] (default medium)")
    parser.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR",
                        help="where to write the PNG files (default: current directory)")
    parser.add_argument("--threads", type=positive_int_arg, default=None, metavar="N",
                        help="interpreter threads (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="segment truncated JPEGs (their missing part is grey) instead of refusing them")
    parser.set_defaults(handler=run)


def write_png(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise EdgeBodyPixError(f"{path}: could not be written")


def _unique_stem(path: str, used: Set[str]) -> str:
    stem = Path(path).stem
    candidate, n = stem, 2
    while candidate in used:
        candidate, n = f"{stem}-{n}", n + 1
    used.add(candidate)
    return candidate


def segment_file(net, path: str, stem: str, args) -> Dict[str, Any]:
    """Segment one file and write its PNGs; the summary record for it."""
    image = read_rgb(path, allow_truncated=args.allow_truncated)
    config = {"internal_resolution": args.internal_resolution, "segmentation_threshold": args.threshold}
    if args.parts:
        result = net.segment_person_parts(image, **config)
        mask = (result.data >= 0).astype(np.uint8)
    else:
        result = net.segment_person(image, **config)
        mask = result.data
    timings = net.last_timings
    outputs = {"mask": str(args.output_dir / f"{stem}.mask.png")}
    write_png(Path(outputs["mask"]), mask * np.uint8(255))
    if args.parts:
        outputs["parts"] = str(args.output_dir / f"{stem}.parts.png")
        write_png(Path(outputs["parts"]), to_colored_part_mask(result)[:, :, :3])
    record: Dict[str, Any] = {
        "image": path,
        "width": result.width,
        "height": result.height,
        "input_size": list(net.input_size_for((result.height, result.width), args.internal_resolution)),
        "timings_ms": {
            "preprocess": round(timings.preprocess_ms, 3),
            "inference": round(timings.inference_ms, 3),
            "postprocess": round(timings.postprocess_ms, 3),
        },
        "person_fraction": round(float(np.count_nonzero(mask)) / mask.size, 6),
        "outputs": outputs,
        "poses": [pose.to_dict() for pose in result.all_poses],
    }
    if args.effect:
        parts_result = result if args.parts else net.segment_person_parts(image, **config)
        person_result = PersonSegmentation(result.width, result.height, mask, result.all_poses,
                                           face_discs=parts_result.face_discs)
        for effect in dict.fromkeys(args.effect):  # effect names ("mask", "parts") must not reuse the mask files
            outputs[f"effect:{effect}"] = str(args.output_dir / f"{stem}.effect-{effect}.png")
            write_png(Path(outputs[f"effect:{effect}"]), EFFECTS[effect](image, person_result, parts_result))
    poses = result.all_poses
    if args.multi:
        method = net.segment_multi_person_parts if args.parts else net.segment_multi_person
        people = method(image, **config)
        multi = net.last_timings
        record["timings_ms"]["multi_person"] = {
            "inference": round(multi.inference_ms, 3), "postprocess": round(multi.postprocess_ms, 3)}
        record["people"] = []
        for number, person in enumerate(people, start=1):
            entry = {"pose": person.pose.to_dict(), "mask": str(args.output_dir / f"{stem}.person{number}.mask.png")}
            person_mask = (person.data >= 0) if args.parts else (person.data == 1)
            write_png(Path(entry["mask"]), person_mask.astype(np.uint8) * np.uint8(255))
            if args.parts:
                entry["parts"] = str(args.output_dir / f"{stem}.person{number}.parts.png")
                write_png(Path(entry["parts"]), to_colored_part_mask(person)[:, :, :3])
            entry["person_fraction"] = round(float(np.count_nonzero(person_mask)) / person_mask.size, 6)
            record["people"].append(entry)
        poses = [person.pose for person in people]
    if args.draw_poses:
        outputs["poses"] = str(args.output_dir / f"{stem}.poses.png")
        write_png(Path(outputs["poses"]), draw_poses(image, poses))
    return record


def run(args) -> int:
    from .. import load

    try:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"cannot create output directory {args.output_dir}: {exc.strerror or exc}")
    try:
        net = load(model=args.model, num_threads=args.threads, models_dir=args.models_dir, backend=args.backend)
    except EdgeBodyPixError as exc:
        return fail(exc, exit_code(exc))
    records: List[Dict[str, Any]] = []
    failures: List[Dict[str, str]] = []
    used: Set[str] = set()
    for path in args.images:
        try:
            records.append(segment_file(net, path, _unique_stem(path, used), args))
        except EdgeBodyPixError as exc:
            message = str(exc) if path in str(exc) else f"{path}: {exc}"  # every error names its file
            failures.append({"image": path, "error": message})
            fail(message)
    summary = {
        "model": net.info.name,
        "model_path": net.info.path,
        "backend": net.info.backend,
        "internal_resolution": args.internal_resolution,
        "segmentation_threshold": args.threshold,
        "images": records,
        "failed": failures,
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print_summary(summary)
    return 1 if failures else 0


def print_summary(summary: Dict[str, Any], stream=None) -> None:
    stream = stream or sys.stdout
    print(f"model {summary['model']} ({summary['backend']})", file=stream)
    for record in summary["images"]:
        t = record["timings_ms"]
        size = "x".join(str(v) for v in reversed(record["input_size"]))
        count = len(record.get("people", ()))
        people = f", {count} {'person' if count == 1 else 'people'}" if "people" in record else ""
        print(
            f"{record['image']}: person {record['person_fraction']:.1%}{people}, input {size}, "
            f"pre {t['preprocess']:.1f} ms, inference {t['inference']:.1f} ms, post {t['postprocess']:.1f} ms "
            f"-> {', '.join(record['outputs'].values())}",
            file=stream,
        )
    for failure in summary["failed"]:
        print(f"{failure['image']}: failed (error on stderr)", file=stream)


