"""Cutting a video into chunks that workers protect independently (pure: frame indices only).

A chunk emits frames `start..end-1`. Its worker starts the temporal guard
`overlap` frames earlier (`warm_from`), so regions held from just before the
boundary stay protected after it, and decodes from the last keyframe at or
before that (`decode_from`). A chunk's output depends only on the file and
these numbers, so the same job gives the same bytes on one box, on a
cluster, or resumed after a crash.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Sequence

from ..checks import check_number


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    warm_from: int
    decode_from: int

    @property
    def frames(self) -> int:
        return self.end - self.start


#: A worker holds a chunk's protected frames (I420, 1.5 bytes a pixel) until it encodes them in one run.
CHUNK_MEMORY_BYTES = 256 * 2**20


def plan_chunks(frames: int, keyframes: Sequence[int], rate: Fraction, chunk_seconds: float = 10.0,
                overlap: int = 8, frame_pixels: int = 0) -> List[Chunk]:
    """Chunks of about `chunk_seconds` of video covering all `frames`, each warming up over `overlap` frames;
    shorter where `frame_pixels` would make a chunk's frames outgrow `CHUNK_MEMORY_BYTES`."""
    check_number("chunk_seconds", chunk_seconds, 0.1, None)
    check_number("overlap", overlap, 0, None, integer=True)
    if frames < 1 or not keyframes or keyframes[0] != 0:
        raise ValueError("a video needs frames and a keyframe first")
    length = max(1, int(math.ceil(chunk_seconds * float(rate))))
    if frame_pixels:
        length = max(1, min(length, int(CHUNK_MEMORY_BYTES // (1.5 * frame_pixels))))
    chunks = []
    for index, start in enumerate(range(0, frames, length)):
        warm_from = max(0, start - overlap)
        decode_from = keyframes[bisect.bisect_right(keyframes, warm_from) - 1]
        chunks.append(Chunk(index, start, min(start + length, frames), warm_from, decode_from))
    return chunks
