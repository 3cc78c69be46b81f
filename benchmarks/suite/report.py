"""results.json, results.csv and report.md (tables, and PNG plots when matplotlib is installed)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Dict, List, Tuple

GENERATED_LABEL = "timing only, generated weights"


def write_results(results: Dict[str, object], directory: Path) -> Dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / "results.json", "csv": directory / "results.csv", "markdown": directory / "report.md"}
    paths["json"].write_text(json.dumps(results, indent=1))
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "backend", "quantisation", "resolution", "input_h", "input_w", "method",
                         "pre_median_ms", "inference_median_ms", "inference_p90_ms", "post_median_ms",
                         "post_p90_ms", "total_median_ms", "fps", "generated_weights"])
        for row in results["latency"]:
            writer.writerow([row["model"], row["backend"], row["quantisation"], row["resolution"], *row["input_size"],
                             row["method"], row["preprocess_ms"]["median"], row["inference_ms"]["median"],
                             row["inference_ms"]["p90"], row["postprocess_ms"]["median"], row["postprocess_ms"]["p90"],
                             row["total_ms"]["median"], row["fps"], row["generated_weights"]])
    plots = _plots(results, directory)
    paths["markdown"].write_text(markdown(results, plots, directory))
    return paths


#: Written by `benchmarks/arm_instructions.py --write DIR`; the report shows it when it is there.
ARM_INSTRUCTIONS = "arm_instructions.json"


def arm_section(directory: Path) -> List[str]:
    """The guest-instruction table of `arm_instructions.py --write` in `directory` as report lines (or none)."""
    path = Path(directory) / ARM_INSTRUCTIONS
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    cpus = [r["cpu"] for r in data["results"]]
    targets = data.get("targets_a76", {})
    lines = ["## Guest instructions on the Pi's cores", "",
             f"Default model, \"medium\", 1 interpreter thread, emulated {' and '.join(cpus)} "
             f"(`benchmarks/arm_instructions.py`, {data.get('date', '')}); ratios are to the inference of the same "
             "call. Counts, not cycles: machine-independent, they repeat to "
             f"{100 * data.get('repeat_spread', 0):.1f}%.", "",
             "| stage | " + " | ".join(f"{c} | ratio" for c in cpus) + " | Cortex-A76 target |",
             "| --- | " + " | ".join("---: | ---:" for _ in cpus) + " | ---: |"]
    for row in data["results"][0]["table"]:
        cells = " | ".join(f"{r['table'][row]['instructions'] / 1e6:.1f} M | {r['table'][row]['ratio']:.3f}"
                           for r in data["results"])
        target = f"<= {targets[row]:.2f}" if row in targets else ""
        lines.append(f"| {row} | {cells} | {target} |")
    return lines + [""]


def refresh_markdown(directory: Path) -> Path:
    """Rewrite `report.md` from the `results.json` beside it, keeping its plots (after new sections change)."""
    directory = Path(directory)
    path = directory / "report.md"
    old = path.read_text() if path.is_file() else ""
    plots = re.findall(r"^!\[([^]]+)\]", old, flags=re.M)
    text = markdown(json.loads((directory / "results.json").read_text()), plots, directory)
    if "\n## Device\n" in old:  # keep the header as written (how the run was made)
        text = old.split("\n## Device\n")[0] + "\n## Device\n" + text.split("\n## Device\n", 1)[1]
    path.write_text(text)
    return path


def short_name(model: str) -> Tuple[str, str, int]:
    """(a label that fits a plot, the quantisation, the output stride) of a model name: converter outputs
    `bodypix_mobilenet_v1_075_16_int8_from_quant2` -> "0.75 s16 int8 (quant2)", Coral's models -> "Coral ...",
    ONNX exports `MobileNetV1-x050-stride16` -> "ONNX 0.50 s16"."""
    converted = re.fullmatch(r"bodypix_(mobilenet_v1_(\d{3})|resnet50)_(\d+)_(float32|float16|dynamic|int8)"
                             r"(?:_from_(quant[12]))?(?:_\d+x\d+)?(_edgetpu)?", model)
    if converted:
        network = "ResNet50" if converted.group(1) == "resnet50" else f"{int(converted.group(2)) / 100:.2f}"
        weights = f" ({converted.group(5)})" if converted.group(5) else ""
        return (f"{network} s{converted.group(3)} {converted.group(4)}{weights}{' TPU' if converted.group(6) else ''}",
                converted.group(4), int(converted.group(3)))
    coral = re.fullmatch(r"bodypix_mobilenet_v1_(\d{3})_\d+_\d+_(\d+)_(.*)", model)
    if coral:
        return (f"Coral {int(coral.group(1)) / 100:.2f} s{coral.group(2)} {coral.group(3).replace('_', ' ')}", "uint8",
                int(coral.group(2)))
    onnx = re.fullmatch(r"MobileNetV1-x(\d{3})-stride(\d+)", model)
    if onnx:
        return f"ONNX {int(onnx.group(1)) / 100:.2f} s{onnx.group(2)}", "float32", int(onnx.group(2))
    return model, "", 0


def _plots(results: Dict[str, object], directory: Path) -> List[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = []
    rows = [r for r in results["latency"] if r["method"] == "segment_person"]
    figure, axis = plt.subplots(figsize=(7, 4))
    styles = ["-", "--", ":", "-."]
    for index, model in enumerate(sorted({r["model"] for r in rows})):
        points = sorted((r["input_size"][1], r["inference_ms"]["median"]) for r in rows if r["model"] == model)
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3,
                  linestyle=styles[index // 10 % len(styles)], label=model)
    axis.set_xlabel("model input width (pixels)")
    axis.set_ylabel("inference, median (ms)")
    axis.set_title("Latency against resolution (segment_person)")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(directory / "latency_vs_resolution.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    names.append("latency_vs_resolution.png")
    accuracy = [a for a in results.get("accuracy", [])
                if a.get("person_iou_mean") is not None and a["resolution"] == "medium"]  # one point per model
    if accuracy:
        figure, axis = plt.subplots(figsize=(10, 6.5))
        colours = {"float32": "tab:blue", "int8": "tab:red", "uint8": "tab:orange", "float16": "tab:green"}
        markers = {8: "o", 16: "s", 32: "^"}
        for index, item in enumerate(sorted(accuracy, key=lambda a: a["model"])):
            latency = [r["inference_ms"]["median"] for r in rows
                       if r["model"] == item["model"] and r["resolution"] == item["resolution"]]
            if not latency:
                continue
            label, kind, stride = short_name(item["model"])
            axis.scatter(latency[0], item["person_iou_mean"], color=colours.get(kind, "tab:gray"),
                         marker=markers.get(stride, "D"), s=28, zorder=3)
            axis.annotate(label, (latency[0], item["person_iou_mean"]), fontsize=6.5,
                          xytext=(4, 4 if index % 2 else -9), textcoords="offset points")
        for kind, colour in colours.items():  # legend: colour = quantisation, shape = output stride
            axis.scatter([], [], color=colour, marker="o", label=kind)
        for stride, marker in markers.items():
            axis.scatter([], [], color="black", marker=marker, label=f"stride {stride}")
        axis.legend(fontsize=7, loc="center right")
        axis.grid(alpha=0.3)
        axis.set_xlabel("inference at medium, median (ms, this host; one thread count for all)")
        axis.set_ylabel("person IoU against COCO's masks (mean)")
        axis.set_title("Accuracy against cost: one point per model")
        figure.tight_layout()
        figure.savefig(directory / "accuracy_vs_latency.png", dpi=110, bbox_inches="tight")  # labels at the edge
        plt.close(figure)
        names.append("accuracy_vs_latency.png")
    return names


def markdown(results: Dict[str, object], plots: List[str], directory: Path = None) -> str:
    device = results["device"]
    lines = ["# edge-bodypix benchmark", "", f"Command: `{device.get('command')}`", "", "## Device", "",
             "| | |", "| --- | --- |"]
    for key in ("cpu", "cores", "memory_gb", "os", "machine", "python", "numpy", "edgetpu", "raspberry_pi",
                "jetson", "edge_bodypix"):
        lines.append(f"| {key} | {device.get(key)} |")
    for name, status in (device.get("backends") or {}).items():
        lines.append(f"| backend {name} | {status} |")
    lines += ["", f"Frames: {results['frames']}; threads: {results['threads']}; rounds: {results['rounds']} "
              "(after two warm-up rounds); variants interleaved within each resolution.", "",
              "## Models", "", "| model | backend | size (MB) | load (s) | memory added (MB) |",
              "| --- | --- | ---: | ---: | ---: |"]
    for model in results["models"]:
        label = f" ({GENERATED_LABEL})" if model.get("generated_weights") else ""
        lines.append(f"| {model['model']}{label} | {model['backend']} | {model['size_bytes'] / 1e6:.2f} | "
                     f"{model['load_s']:.3f} | {model['rss_added_mb']:.1f} |")
    lines += ["", "## Latency (ms, median / p90)", "",
              "| model | resolution | input | method | pre | inference | post | total | fps |",
              "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in results["latency"]:
        label = f" ({GENERATED_LABEL})" if r["generated_weights"] else ""
        lines.append(
            f"| {r['model']}{label} | {r['resolution']} | {r['input_size'][0]}x{r['input_size'][1]} | {r['method']} | "
            f"{r['preprocess_ms']['median']:.2f} | {r['inference_ms']['median']:.2f} / {r['inference_ms']['p90']:.2f} | "
            f"{r['postprocess_ms']['median']:.2f} / {r['postprocess_ms']['p90']:.2f} | "
            f"{r['total_ms']['median']:.2f} | {r['fps']} |")
    if results.get("accuracy"):
        first = results["accuracy"][0]
        scope = (f"person masks on {first.get('images')} COCO photos with people and {first.get('negatives')} "
                 "without")
        scope += (" (--quick: the first of each set, too few for more than a rough comparison; keypoints not "
                  "scored)" if results.get("quick") else ", keypoint AP on the COCO keypoint set")
        lines += ["", "## Accuracy (COCO train images, read as relative)", "", scope[0].upper() + scope[1:] + ".", "",
                  "| model | resolution | photos | person IoU | false-positive pixels | false-positive images | "
                  "OKS AP | IoU vs float |", "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for a in results["accuracy"]:
            ap = a.get("keypoints") or {}
            lines.append(f"| {a['model']} | {a['resolution']} | {a.get('images')} + {a.get('negatives')} | "
                         f"{a.get('person_iou_mean')} | "
                         f"{a.get('false_positive_pixel_rate')} | {a.get('false_positive_images')} | {ap.get('AP', '-')} | "
                         f"{a.get('iou_vs_float', '-')} |")
    lines += ["", f"Peak resident memory of the run: {results['peak_rss_mb']:.0f} MB (including TensorFlow when it "
              "built the generated-weights models).", ""]
    if directory is not None:
        lines += arm_section(directory)
    for plot in plots:
        lines += [f"![{plot}]({plot})", ""]
    return "\n".join(lines)
