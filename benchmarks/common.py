"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from numbers import Number
from pathlib import Path
from typing import Callable, Iterable, List, Sequence, Union

import cv2
import numpy as np

from edge_bodypix.imageio import read_rgb  # noqa: F401 - the benchmarks' image reader

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGE_BODYPIX_SHARED", ROOT.parent / "shared"))  # as the tests find it
DEFAULT_IMAGES = SHARED / "images"


def camera_frame(image: np.ndarray) -> np.ndarray:
    """A photo resized to a 640x480 camera frame."""
    return cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)


def parser_for(doc: str, rounds: int = 30) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes: --model, --rounds, --threads, --json."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model name or path (default: the catalogue default)")
    parser.add_argument("--rounds", type=int, default=rounds, help="measured rounds (after two warm-up rounds)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="interpreter threads")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


@dataclass(frozen=True)
class Column:
    """One column of a benchmark's table: its header, the row's key (or a function of the row), a format spec."""

    header: str
    value: Union[str, Callable[[dict], object]]
    format: str = ""

    def cell(self, row: dict) -> str:
        value = row[self.value] if isinstance(self.value, str) else self.value(row)
        return "" if value is None else format(value, self.format)


def table(columns: Sequence[Column], rows: Iterable[dict]) -> List[str]:
    """Aligned text lines: a header and one line per row, numbers right-aligned, text left-aligned."""
    rows = list(rows)
    cells = [[column.cell(row) for column in columns] for row in rows]
    widths = [max([len(column.header)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    numeric = [bool(rows) and all(isinstance(column.value, str) and isinstance(row[column.value], Number)
                                  for row in rows) for column in columns]

    def line(values: Sequence[str]) -> str:
        return " ".join(v.rjust(w) if right else v.ljust(w) for v, w, right in zip(values, widths, numeric)).rstrip()

    return [line([c.header for c in columns])] + [line(values) for values in cells]


def finish(report: dict, as_json: bool, heading: Sequence[str] = (), columns: Sequence[Column] = (),
           rows: Iterable[dict] = (), footer: Sequence[str] = ()) -> int:
    """The end of every benchmark script: the report as JSON (--json), or heading, table and footer for people."""
    if as_json:
        print(json.dumps(report, indent=1))
        return 0
    lines = list(heading) + (table(columns, rows) if columns else []) + list(footer)
    print("\n".join(lines))
    return 0
