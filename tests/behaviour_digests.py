"""Digests of everything the pipeline produces on the shared photos and a shared video, through the public API.

`tests/test_behaviour_unchanged.py` compares them with `tests/goldens/behaviour.json`,
which holds one set per package versions (OpenCV, numpy and the interpreter
change pixels; the code must not). Record a set for the installed versions
with `python tests/behaviour_digests.py --record`, on a commit known to be good.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Dict

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDENS = HERE / "goldens" / "behaviour.json"
VIDEO_FRAMES = 12


def fingerprint() -> str:
    """The package versions the digests depend on."""
    import cv2

    from edge_bodypix.backends.tflite.interpreter_library import interpreter_library

    library = interpreter_library()
    backend = f"{library.name} {library.version}"
    try:
        import onnxruntime

        onnx = onnxruntime.__version__
    except ImportError:
        onnx = "none"
    return f"numpy {np.__version__}, opencv {cv2.__version__}, {backend}, onnxruntime {onnx}"


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()[:20]


def _poses(poses) -> np.ndarray:
    rows = [[pose.score] + [v for k in pose.keypoints for v in (k.score, *k.position)]
            for pose in poses]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def _segmentation(result) -> str:
    results = result if isinstance(result, list) else [result]
    arrays = []
    for r in results:
        arrays += [r.data, _poses(r.all_poses if r.pose is None else [r.pose]),
                   np.asarray(getattr(r, "face_discs", ()), dtype=np.float64).reshape(-1, 3)]
    return _digest(*arrays)


def photo_digests(net, photos: Dict[str, Path], label: str) -> Dict[str, str]:
    import edge_bodypix as bp
    from edge_bodypix.imageio import read_rgb
    from edge_bodypix.privacy import anonymize
    from edge_bodypix.privacy.effects import PRIVACY_EFFECTS

    out: Dict[str, str] = {}
    for name, path in photos.items():
        image = read_rgb(path)
        person = net.segment_person(image)
        parts = net.segment_person_parts(image)
        flipped = net.segment_person_parts(image, flip_horizontal=True, internal_resolution="high")
        out[f"{label}/{name}/segment_person"] = _segmentation(person)
        out[f"{label}/{name}/segment_person_parts"] = _segmentation(parts)
        out[f"{label}/{name}/segment_person_parts flipped high"] = _segmentation(flipped)
        if "long_offsets" not in net.backend.roles:
            continue
        multi = net.segment_multi_person(image)
        multi_parts = net.segment_multi_person_parts(image, segmentation_threshold=0.6)
        out[f"{label}/{name}/segment_multi_person"] = _segmentation(multi)
        out[f"{label}/{name}/segment_multi_person_parts"] = _segmentation(multi_parts)
        out[f"{label}/{name}/draw_mask"] = _digest(bp.draw_mask(image, bp.to_colored_part_mask(parts), 0.7, 3))
        out[f"{label}/{name}/draw_pixelated_mask"] = _digest(
            bp.draw_pixelated_mask(image, bp.to_colored_part_mask(parts), 0.7, 0, 10))
        out[f"{label}/{name}/draw_bokeh_effect"] = _digest(bp.draw_bokeh_effect(image, person))
        out[f"{label}/{name}/draw_bokeh_effect multi"] = _digest(bp.draw_bokeh_effect(image, multi))
        out[f"{label}/{name}/blur_body_part"] = _digest(bp.blur_body_part(image, parts))
        out[f"{label}/{name}/draw_poses"] = _digest(bp.draw_poses(image, person.all_poses))
        for effect in PRIVACY_EFFECTS.values():
            source = parts if effect.target == "faces" else person
            out[f"{label}/{name}/anonymize {effect.name}"] = _digest(
                anonymize(image, source, effect.target, effect.method))
    return out


def video_digests(net, video: Path) -> Dict[str, str]:
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.outputs import MemoryOutput
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.sources.opencv import OpenCVSource
    from edge_bodypix.daemon.systemd import Notifier

    out: Dict[str, str] = {}
    for effect in ("blur-faces", "pixelate-persons", "fill-background"):
        for pipeline in (False, True):
            config = load_config(None, {"source": {"uri": str(video)}, "http": {"listen": ""},
                                        "service": {"max_frames": VIDEO_FRAMES},
                                        "privacy": {"effect": effect, "selftest_interval_s": 0},
                                        "model": {"pipeline": pipeline, "infer_every": 2}})
            collector = MemoryOutput()
            service = Service(config, net=net, source=OpenCVSource(str(video)), outputs=[collector],
                              notifier=Notifier(address=""))
            service.run()
            frames = list(collector.frames)
            out[f"daemon/{video.stem}/{effect}/pipeline={pipeline}"] = _digest(
                *[f.image for f in frames], np.asarray([[f.index, f.persons, f.fully_protected] for f in frames]))
    return out


def all_digests(shared: Path) -> Dict[str, str]:
    from edge_bodypix.loader import load

    images = shared / "images"
    photos = {p.stem: p for p in sorted(images.glob("*.jpg"))}
    coral = shared / "models" / "coral" / "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"
    net = load(model=str(coral), num_threads=1)
    digests = photo_digests(net, photos, "tflite")
    digests.update(video_digests(net, shared / "videos" / "mmpose_demo_street_pedestrians.mp4"))
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return digests
    onnx = load(model=str(shared / "models" / "onnx" / "MobileNetV1-x050-stride16.onnx"), num_threads=1,
                backend="onnxruntime", onnx_providers=("cpu",))
    digests.update(photo_digests(onnx, photos, "onnxruntime"))
    return digests


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="add this machine's set to the goldens file")
    parser.add_argument("--shared", type=Path, default=HERE.parents[1] / "shared")
    args = parser.parse_args(argv)
    digests = all_digests(args.shared)
    key = fingerprint()
    if not args.record:
        json.dump({key: digests}, sys.stdout, indent=1)
        return 0
    goldens = json.loads(GOLDENS.read_text()) if GOLDENS.exists() else {}
    goldens[key] = digests
    GOLDENS.parent.mkdir(exist_ok=True)
    GOLDENS.write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(digests)} digests for {key} in {GOLDENS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
