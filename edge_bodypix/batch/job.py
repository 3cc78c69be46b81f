"""The anonymize job: inputs to protected outputs, chunk by chunk, resumable, failing closed.

For each video the driver demuxes it once (timestamps, keyframes), cuts it
into chunks (`chunks.plan_chunks`), hands each chunk's compressed packets to
a worker (`pools`), stores every finished chunk (`manifest`), and when a
file's chunks are all there muxes them with the input's audio into
`<name>.partial`, renamed to the output name only when complete. A chunk
that fails every attempt is written as black frames and reported; an output
is never assembled from unprotected frames.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import cv2
import numpy as np

from ..errors import InvalidParameterError
from .chunks import Chunk, plan_chunks
from ..models.fetch import sha256_file
from .manifest import PARTS, Manifest
from .media import VideoInfo, assemble, black_chunk, probe, read_packets
from .worker import ChunkJob, ChunkResult, ImageJob, Settings, encode_image

log = logging.getLogger("edge_bodypix.batch")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".ts")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Item:
    """One input file and the output name it mirrors (relative to the output folder)."""

    source: Path
    name: str

    @property
    def video(self) -> bool:
        return self.source.suffix.lower() in VIDEO_EXTENSIONS


@dataclass
class FileReport:
    file: str
    output: str
    frames: int = 0
    persons_seen: int = 0
    frames_fully_protected: int = 0
    fail_safe_frames: int = 0
    errors: List[str] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False  # already finished by an earlier run (--resume)


def expand_inputs(inputs: Sequence[str]) -> List[Item]:
    """Files, folders (their videos and images, recursively) and globs, with the names their outputs get.

    A folder's files keep their path below the folder; a file or glob match its
    name. Two inputs that would write the same output are refused.
    """
    items: List[Item] = []
    for text in inputs:
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise InvalidParameterError(f"input {text!r} matches no file")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.is_file() and _supported(p))
                if not found:
                    raise InvalidParameterError(f"input folder {str(path)!r} holds no video or image")
                items += [Item(p, str(p.relative_to(path))) for p in found]
            elif path.is_file():
                if not _supported(path):
                    raise InvalidParameterError(
                        f"input {str(path)!r} is not a video ({', '.join(VIDEO_EXTENSIONS)}) or an image "
                        f"({', '.join(IMAGE_EXTENSIONS)})")
                items.append(Item(path, path.name))
            else:
                raise InvalidParameterError(f"input {str(path)!r}: no such file or folder")
    names: Dict[str, Path] = {}
    for item in items:
        if item.name in names and names[item.name].resolve() != item.source.resolve():
            raise InvalidParameterError(f"inputs {str(names[item.name])!r} and {str(item.source)!r} would both write "
                                        f"{item.name!r}: give their folders instead, or run them separately")
        names[item.name] = item.source
    unique = {item.name: item for item in items}
    return list(unique.values())


def _supported(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS


def check_outputs(items: Sequence[Item], output_dir: Path) -> None:
    """Never write over an input, nor into the job's own bookkeeping."""
    inputs = {item.source.resolve() for item in items}
    for item in items:
        target = (output_dir / item.name).resolve()
        if target in inputs:
            raise InvalidParameterError(f"output {str(target)!r} would overwrite the input {str(item.source)!r}: "
                                        "choose another --output-dir")
        if PARTS in Path(item.name).parts:
            raise InvalidParameterError(f"input {str(item.source)!r} is inside a job's {PARTS} folder")


class Job:
    """Protects `items` into `output_dir`: `plan` what is left, then `run` it on a pool (see the module docstring)."""

    def __init__(self, items: Sequence[Item], output_dir: Path, settings: Settings, resume: bool = False,
                 progress: Optional[Callable[[int], None]] = None):
        check_outputs(items, output_dir)
        self.items, self.output_dir, self.settings = list(items), output_dir, settings
        self.manifest = Manifest(output_dir, asdict(settings) | {"models_dir": list(settings.models_dir)}, resume)
        self.progress = progress or (lambda frames: None)
        self.reports: Dict[str, FileReport] = {}
        self._videos: Dict[str, VideoInfo] = {}
        self._chunks: Dict[str, List[Chunk]] = {}
        self._missing: Dict[str, set] = {}
        self._started: Dict[str, float] = {}

    # -- planning ----------------------------------------------------------------------------------------
    def plan(self) -> int:
        """Probe every input and record it; the number of frames still to protect."""
        todo = 0
        for item in self.items:
            output = self.output_dir / item.name
            report = self.reports[item.name] = FileReport(str(item.source), str(output))
            digest = sha256_file(item.source)
            if item.video:
                info = self._videos[item.name] = probe(str(item.source))
                chunks = plan_chunks(info.frames, info.keyframes, info.rate, self.settings.chunk_seconds,
                                     self.settings.overlap, info.width * info.height)
                report.frames = info.frames
            else:
                chunks = [Chunk(0, 0, 1, 0, 0)]  # a photo: one "chunk" of one frame
                report.frames = 1
            self._chunks[item.name] = chunks
            self.manifest.start_file(item.name, digest, report.frames, len(chunks))
            if self.manifest.is_complete(item.name, output):
                report.skipped = True
                for key, value in self.manifest.figures(item.name).items():
                    setattr(report, key, value)
                continue
            missing = {c.index for c in chunks if self.manifest.done_chunk(item.name, c.index) is None}
            self._missing[item.name] = missing
            todo += sum(c.frames for c in chunks if c.index in missing)
        return todo

    def jobs(self) -> Iterator:
        """The work still to do, lazily (packets are read as workers become free)."""
        for item in self.items:
            missing = self._missing.get(item.name)
            if not missing:
                continue
            self._started.setdefault(item.name, time.perf_counter())
            if not item.video:
                yield ImageJob(item.name, item.source.read_bytes(), item.source.suffix.lower())
                continue
            info = self._videos[item.name]
            spec = info.encoder_spec()
            for chunk in self._chunks[item.name]:
                if chunk.index in missing:
                    yield ChunkJob(item.name, chunk, info.codec, info.extradata, info.time_base,
                                   info.frame_pts[chunk.decode_from:chunk.end],
                                   read_packets(info, chunk.decode_from, chunk.end), spec)

    # -- results -----------------------------------------------------------------------------------------
    def on_result(self, job, result: ChunkResult) -> None:
        if result.error is not None:  # fail closed: black frames (a black image), reported
            result = fail_safe(job, result.error)
        self.manifest.save_chunk(result)
        self.progress(result.frames)
        missing = self._missing[result.key]
        missing.discard(result.index)
        if not missing:
            self._finish(result.key)

    def _finish(self, name: str) -> None:
        output = self.output_dir / name
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        chunks = self._chunks[name]
        results = list(self.manifest.chunk_results(name, len(chunks)))
        if name in self._videos:
            info = self._videos[name]
            assemble(info, info.encoder_spec(), (r.packets for r in results), str(partial))
        else:
            partial.write_bytes(results[0].image)
        os.replace(partial, output)
        figures = {
            "persons_seen": max(r.persons for r in results),
            "frames_fully_protected": sum(r.fully_protected for r in results),
            "fail_safe_frames": sum(r.frames for r in results if r.error is not None),
            "errors": sorted({r.error for r in results if r.error is not None}),
            "seconds": round(time.perf_counter() - self._started.get(name, time.perf_counter()), 3),
        }
        self.manifest.complete(name, output, len(chunks), figures)
        for key, value in figures.items():
            setattr(self.reports[name], key, value)

    def run(self, pool) -> List[FileReport]:
        """Run what `plan` found left on `pool` (a `pools.LocalPool` or `pools.RayPool`)."""
        try:
            pool.run(self.jobs(), self.on_result)
        finally:
            self.manifest.close()
        return [self.reports[item.name] for item in self.items]


def fail_safe(job, error: str) -> ChunkResult:
    """What a job that could not be protected is written as: black frames with its timestamps, or a black image."""
    if isinstance(job, ChunkJob):
        chunk = job.chunk
        pts = job.frame_pts[chunk.start - chunk.decode_from:]
        return ChunkResult(job.key, chunk.index, chunk.frames, 0, 0, black_chunk(job.spec, pts), error=error)
    decoded = cv2.imdecode(np.frombuffer(job.data, np.uint8), cv2.IMREAD_COLOR)
    shape = decoded.shape if decoded is not None else (1, 1, 3)
    return ChunkResult(job.key, 0, 1, 0, 0, image=encode_image(np.zeros(shape, np.uint8), job.extension), error=error)


def write_report(output_dir: Path, reports: Sequence[FileReport], settings: Settings, seconds: float) -> Path:
    path = output_dir / "report.json"
    data = {"settings": asdict(settings), "seconds": round(seconds, 3), "files": [asdict(r) for r in reports],
            "fail_safe_frames": sum(r.fail_safe_frames for r in reports)}
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path
