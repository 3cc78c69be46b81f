"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

from edge_bodypix.imageio import read_rgb  # noqa: F401 - the benchmarks' image reader

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
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
