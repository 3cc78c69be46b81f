"""Two result files side by side (two devices, or before/after a change), with ratios."""

from __future__ import annotations

import json
from pathlib import Path


def runtime(device: dict) -> str:
    """The TFLite library a result file was measured with (older files name it `interpreter`)."""
    return (device.get("backends") or {}).get("tflite") or device.get("interpreter") or "unknown"


def compare(first: Path, second: Path) -> str:
    a, b = json.loads(Path(first).read_text()), json.loads(Path(second).read_text())

    def key(row):
        return (row["model"], str(row["resolution"]), row["method"])

    rows_b = {key(r): r for r in b["latency"]}
    lines = [f"# {first} vs {second}", "",
             f"A: {a['device'].get('cpu')} ({runtime(a['device'])})  ",
             f"B: {b['device'].get('cpu')} ({runtime(b['device'])})", "",
             "| model | resolution | method | A inference ms | B inference ms | B/A | A total ms | B total ms | B/A |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in a["latency"]:
        other = rows_b.get(key(row))
        if other is None:
            continue
        ai, bi = row["inference_ms"]["median"], other["inference_ms"]["median"]
        at, bt = row["total_ms"]["median"], other["total_ms"]["median"]
        lines.append(f"| {row['model']} | {row['resolution']} | {row['method']} | {ai:.2f} | {bi:.2f} | "
                     f"{bi / ai:.3f} | {at:.2f} | {bt:.2f} | {bt / at:.3f} |")
    missing = len(a["latency"]) - (len(lines) - 7)
    if missing:
        lines += ["", f"{missing} rows of A have no counterpart in B."]
    return "\n".join(lines) + "\n"
