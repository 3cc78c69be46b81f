"""Guest instructions per stage on emulated Cortex-A72 (Pi 4) and Cortex-A76 (Pi 5), with ratios to inference.

x86 timings mislead on a Pi: XNNPACK with AVX-512 runs the network so fast that
post-processing looks large or small for reasons a Pi does not share. Guest
instruction counts under QEMU user emulation are machine-independent and repeat
to about 1%, so the cost of each stage against inference is what it is on the
Pi's own instruction set (not its cycles: caches and pipelines are not modelled).

The script has two halves. `--guest` runs the workloads on aarch64 (under QEMU)
and marks each stage boundary with `lseek(-1, 0x5EED0000 + k, 0)`, a call that
fails harmlessly; the QEMU plugin built by `.ci/arm64-check.sh` prints the
running instruction total at each mark. The host half starts the guest once per
CPU model and turns the marks into the table. Each stage runs twice after a
warm-up; the second run is reported, and the spread between the two is printed.

Workloads (default model, "medium", 1 interpreter thread):
- segment_person and segment_person_parts on the 1440x1080 one-person photo;
  pose decoding (`all_poses`, decoded on first use) is its own stage;
- segment_multi_person on the 5-person photo;
- anonymize(faces, blur) of the one-person photo, after segment_person_parts;
- the daemon's per-frame work on a 640x480 frame of the walking-person video
  (Processor.process with the default config, i.e. blur-faces), and the
  MJPEG JPEG encoding of the protected frame.
"pre" is `net.preprocess`; "inference" is `net.infer` minus it; "post" of a call
is the call minus `net.infer` with the same outputs.

    sudo .ci/arm64-check.sh     # builds the aarch64 root and the plugin, then runs this
    python benchmarks/arm_instructions.py --root ROOT --plugin libmarkinsn.so [--cpus cortex-a72 cortex-a76] [--json]
    python benchmarks/arm_instructions.py --root ROOT --plugin libmarkinsn.so --models plain.tflite mixed.tflite
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

MARK_BASE = 0x5EED0000
REPEATS = 2
# Cortex-A76 targets of issue 11, as (row, limit on its ratio to inference)
TARGETS = {"segment_person: pre + post": 0.05, "segment_person_parts: pre + post": 0.10,
           "segment_multi_person (5 people): pre + post": 0.20, "anonymize(faces)": 0.05}


# -- guest: runs on aarch64 under QEMU ------------------------------------------------------------------
def _mark(k: int) -> None:
    try:
        os.lseek(-1, MARK_BASE + k, 0)
    except OSError:
        pass


def guest(shared: Path) -> Dict[str, List[Tuple[int, int]]]:
    """Run every stage REPEATS times between marks; {stage: [(start mark, end mark), ...]}."""
    import cv2

    import edge_bodypix
    from edge_bodypix.bodypix import POSE_ROLES
    from edge_bodypix.daemon.config import Config
    from edge_bodypix.daemon.metrics import Metrics
    from edge_bodypix.daemon.processor import Processor
    from edge_bodypix.daemon.sources.base import Frame
    from edge_bodypix.imageio import read_rgb
    from edge_bodypix.pipelining import FrameRunner

    one = read_rgb(shared / "images" / "pexels-karolina-grabowska-4378882.jpg")
    five = read_rgb(shared / "images" / "pexels-fauxels-3184419.jpg")
    capture = cv2.VideoCapture(str(shared / "videos" / "one-by-one-person-detection.mp4"))
    for _ in range(80):  # a frame with the person in view
        ok, frame_bgr = capture.read()
    capture.release()
    if not ok:
        raise SystemExit("cannot read the walking-person video")
    frame = cv2.cvtColor(cv2.resize(frame_bgr, (640, 480), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)

    net = edge_bodypix.load(num_threads=1)
    processor = Processor(FrameRunner(net, threaded=False), Config(), Metrics({}))
    roles_person, roles_parts = net.person_roles(), net.person_roles(parts=True)
    roles_multi = ("segments", "long_offsets") + POSE_ROLES  # what segment_multi_person reads
    parts_one = net.segment_person_parts(one)
    state = {"index": 0}

    def daemon_frame():
        state["index"] += 1
        return processor.process(Frame(frame, float(state["index"]) / 15, state["index"]))

    protected = daemon_frame().image
    stages = [
        ("preprocess 1440x1080", lambda: net.preprocess(one)),
        ("infer (person outputs)", lambda: net.infer(one, roles=roles_person)),
        ("segment_person", lambda: net.segment_person(one)),
        ("segment_person + poses", lambda: len(net.segment_person(one).all_poses)),
        ("infer (part outputs)", lambda: net.infer(one, roles=roles_parts)),
        ("segment_person_parts", lambda: net.segment_person_parts(one)),
        ("preprocess 5 people", lambda: net.preprocess(five)),
        ("infer 5 people (multi-person outputs)", lambda: net.infer(five, roles=roles_multi)),
        ("segment_multi_person (5 people)", lambda: net.segment_multi_person(five)),
        ("anonymize(faces)", lambda: edge_bodypix.anonymize(one, parts_one, "faces", "blur")),
        ("preprocess 640x480", lambda: net.preprocess(frame)),
        ("infer 640x480 (part outputs)", lambda: net.infer(frame, roles=roles_parts)),
        ("daemon frame 640x480", daemon_frame),
        ("daemon JPEG encode", lambda: cv2.imencode(".jpg", cv2.cvtColor(protected, cv2.COLOR_RGB2BGR),
                                                    [cv2.IMWRITE_JPEG_QUALITY, 80])),
    ]
    return _marked(stages)


def _marked(stages) -> Dict[str, List[Tuple[int, int]]]:
    """Run each (name, work) once to warm up, then REPEATS times between marks; {name: [(start, end), ...]}."""
    marks: Dict[str, List[Tuple[int, int]]] = {}
    k = 0
    for name, work in stages:
        work()  # warm-up: plans, buffers, caches
        for _ in range(REPEATS):
            _mark(k)
            work()
            _mark(k + 1)
            marks.setdefault(name, []).append((k, k + 1))
            k += 2
    return marks


def guest_models(shared: Path, models: List[str]) -> Dict[str, List[Tuple[int, int]]]:
    """`--models`: per model, pre-processing and inference (part outputs) of the 1440x1080 photo at
    medium, REPEATS times between marks; {"<model> pre" / "<model> infer": [(start, end), ...]}."""
    import edge_bodypix
    from edge_bodypix.imageio import read_rgb

    one = read_rgb(shared / "images" / "pexels-karolina-grabowska-4378882.jpg")
    stages = []
    for model in models:
        net = edge_bodypix.load(model=model, num_threads=1, verify=False)  # any model, counted as it is
        roles = net.person_roles(parts=True)
        stages += [(f"{model} pre", lambda net=net: net.preprocess(one)),
                   (f"{model} infer", lambda net=net, roles=roles: net.infer(one, "medium", roles))]
    return _marked(stages)


# -- host: starts the guest under QEMU and makes the table ----------------------------------------------
def parse_marks(log: str) -> Dict[int, int]:
    """{mark: running instruction total} from the plugin's "MARK k total" lines."""
    result = {}
    for line in log.splitlines():
        if line.startswith("MARK "):
            _, k, total = line.split()
            result[int(k)] = int(total)
    return result


def stage_counts(marks: Dict[str, List[Tuple[int, int]]], totals: Dict[int, int]) -> Dict[str, Tuple[int, float]]:
    """{stage: (instructions of the last repeat, spread between repeats as a fraction)}."""
    result = {}
    for name, pairs in marks.items():
        counts = [totals[b] - totals[a] for a, b in pairs]
        last = counts[-1]
        spread = (max(counts) - min(counts)) / last if last else 0.0
        result[name] = (last, spread)
    return result


def table(counts: Dict[str, int]) -> Dict[str, Dict[str, float]]:
    """The issue's rows: {row: {"instructions": n, "ratio": n / inference}} for one CPU."""
    c = counts
    inference = c["infer (person outputs)"] - c["preprocess 1440x1080"]
    inference_parts = c["infer (part outputs)"] - c["preprocess 1440x1080"]
    inference_five = c["infer 5 people (multi-person outputs)"] - c["preprocess 5 people"]
    inference_frame = c["infer 640x480 (part outputs)"] - c["preprocess 640x480"]
    rows = {
        "inference 1440x1080 (medium)": (inference, inference),
        "pre-processing": (c["preprocess 1440x1080"], inference),
        "person mask": (c["segment_person"] - c["infer (person outputs)"], inference),
        "pose decoding": (c["segment_person + poses"] - c["segment_person"], inference),
        "part map (with its person mask)": (c["segment_person_parts"] - c["infer (part outputs)"], inference_parts),
        "segment_person: pre + post": (c["segment_person"] - inference, inference),
        "segment_person_parts: pre + post": (c["segment_person_parts"] - inference_parts, inference_parts),
        "segment_multi_person (5 people): pre + post": (c["segment_multi_person (5 people)"] - inference_five,
                                                        inference_five),
        "anonymize(faces)": (c["anonymize(faces)"], inference_parts),
        "daemon frame 640x480: all but inference": (c["daemon frame 640x480"] - inference_frame, inference_frame),
        "daemon JPEG encode 640x480": (c["daemon JPEG encode"], inference_frame),
    }
    return {row: {"instructions": n, "ratio": round(n / base, 4)} for row, (n, base) in rows.items()}


def run_guest(root: Path, plugin: Path, cpu: str, python: str, extra: List[str] = ()):
    """Run `arm_instructions.py --guest` (with `extra` arguments) under QEMU on `cpu`: (marks, totals)."""
    project = "/opt/edge/main"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "plugin.log"
        command = ["qemu-aarch64", "-L", str(root), "-cpu", cpu, "-plugin", str(plugin), "-d", "plugin",
                   "-D", str(log), "-0", "/opt/venv/bin/python", str(root / "usr" / "bin" / python),
                   f"{project}/benchmarks/arm_instructions.py", "--guest", *extra]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "EDGE_BODYPIX_MODELS": "../shared/models",
               "PYTHONPATH": project}
        done = subprocess.run(command, cwd=str(root / "opt" / "edge" / "main"), env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(f"the guest failed on {cpu} (exit {done.returncode}):\n{done.stderr[-3000:]}")
        line = next((text for text in done.stdout.splitlines() if text.startswith("MARKS ")), None)
        if line is None:
            raise SystemExit(f"the guest printed no marks on {cpu}:\n{done.stdout[-2000:]}")
        marks = {name: [tuple(p) for p in pairs] for name, pairs in json.loads(line[6:]).items()}
        return marks, parse_marks(log.read_text())


def run_cpu(root: Path, plugin: Path, cpu: str, python: str) -> Dict[str, object]:
    counts = stage_counts(*run_guest(root, plugin, cpu, python))
    return {"cpu": cpu, "stages": {name: n for name, (n, _) in counts.items()},
            "repeat_spread": {name: round(s, 4) for name, (_, s) in counts.items()},
            "table": table({name: n for name, (n, _) in counts.items()})}


def markdown(results: List[Dict[str, object]]) -> str:
    cpus = [r["cpu"] for r in results]
    lines = ["| stage | " + " | ".join(f"{c} instructions | ratio" for c in cpus) + " | A76 target |",
             "| --- | " + " | ".join("---: | ---:" for _ in cpus) + " | ---: |"]
    for row in results[0]["table"]:
        cells = []
        for r in results:
            entry = r["table"][row]
            cells.append(f"{entry['instructions'] / 1e6:.1f} M | {entry['ratio']:.3f}")
        target = f"<= {TARGETS[row]:.2f}" if row in TARGETS else ""
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines)


def compare_models(root: Path, plugin: Path, cpu: str, python: str, models: List[str]) -> List[Dict[str, object]]:
    """`--models`: copy each model (and its .meta.json) into the root, count its inference on `cpu`;
    one row per model with its ratio to the first."""
    import shutil

    inside = []
    for i, model in enumerate(models):
        folder = root / "opt" / "edge" / "models-compared" / str(i)
        folder.mkdir(parents=True, exist_ok=True)
        for path in (Path(model), Path(model).with_suffix(".meta.json")):
            if path.is_file():
                shutil.copy(path, folder / path.name)
        inside.append(f"/opt/edge/models-compared/{i}/{Path(model).name}")
    counts = stage_counts(*run_guest(root, plugin, cpu, python, ["--models", *inside]))
    rows = []
    for model, path in zip(models, inside):
        inference = counts[f"{path} infer"][0] - counts[f"{path} pre"][0]
        rows.append({"model": model, "cpu": cpu, "inference_instructions": inference})
    for row in rows:
        row["ratio_to_first"] = round(row["inference_instructions"] / rows[0]["inference_instructions"], 4)
    return rows


def write(directory: Path, results: List[Dict[str, object]], spread: float) -> None:
    """`--write`: the table as JSON beside the bench report, which then shows it (`suite.report.arm_section`)."""
    import datetime

    from edge_bodypix.benchsuite import report

    directory.mkdir(parents=True, exist_ok=True)
    data = {"date": datetime.date.today().isoformat(), "results": results, "targets_a76": TARGETS,
            "repeat_spread": round(spread, 4)}
    (directory / report.ARM_INSTRUCTIONS).write_text(json.dumps(data, indent=1))
    if (directory / "results.json").is_file():
        report.refresh_markdown(directory)


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guest", action="store_true", help="run the marked workloads here (under QEMU)")
    parser.add_argument("--shared", default=os.environ.get("EDGE_BODYPIX_SHARED", "../shared"),
                        help="the shared data folder (default: $EDGE_BODYPIX_SHARED or ../shared)")
    parser.add_argument("--root", help="the aarch64 root that .ci/arm64-check.sh built")
    parser.add_argument("--plugin", help="the instruction-counting QEMU plugin (libmarkinsn.so)")
    parser.add_argument("--python", default="python3.11", help="the guest's interpreter under /usr/bin")
    parser.add_argument("--cpus", nargs="+", default=["cortex-a72", "cortex-a76"])
    parser.add_argument("--models", nargs="+", metavar="TFLITE",
                        help="instead of the stage table: inference of these models (medium, 1440x1080 photo, one "
                             "thread), with ratios to the first, e.g. int8 with and without float layers")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--write", metavar="DIR",
                        help="also write DIR/arm_instructions.json and refresh DIR/report.md's table "
                             "(benchmarks/results is the committed report)")
    args = parser.parse_args(argv)
    if args.guest:
        marks = guest_models(Path(args.shared), args.models) if args.models else guest(Path(args.shared))
        print("MARKS " + json.dumps(marks))
        return 0
    if not args.root or not args.plugin:
        parser.error("--root and --plugin are needed (sudo .ci/arm64-check.sh builds both), or --guest")
    if args.models:
        rows = [row for cpu in args.cpus for row in compare_models(Path(args.root), Path(args.plugin), cpu,
                                                                   args.python, args.models)]
        if args.json:
            print(json.dumps(rows, indent=1))
            return 0
        print("| model | cpu | inference instructions | ratio to the first |\n| --- | --- | ---: | ---: |")
        for row in rows:
            print(f"| {row['model']} | {row['cpu']} | {row['inference_instructions'] / 1e6:.1f} M | "
                  f"{row['ratio_to_first']:.3f} |")
        return 0
    results = [run_cpu(Path(args.root), Path(args.plugin), cpu, args.python) for cpu in args.cpus]
    worst = max(s for r in results for s in r["repeat_spread"].values())
    if args.write:
        write(Path(args.write), results, worst)
    if args.json:
        print(json.dumps({"results": results, "targets_a76": TARGETS}, indent=1))
        return 0
    print(markdown(results))
    print(f"\nrepeat spread: at most {worst:.1%} between the two measured runs of a stage")
    a76 = next((r for r in results if r["cpu"] == "cortex-a76"), None)
    if a76:
        missed = [f"{row} {a76['table'][row]['ratio']:.3f} > {limit}" for row, limit in TARGETS.items()
                  if a76["table"][row]["ratio"] > limit]
        print("Cortex-A76 targets: " + ("all met" if not missed else "missed: " + "; ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
