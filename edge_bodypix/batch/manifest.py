"""The job's memory in its output folder: a JSON-lines manifest and the finished chunks, so `--resume` redoes only
what is not finished and the result is byte-identical to an uninterrupted run.

Lines are appended and flushed to disk one by one (a crash loses at most the
line being written, which is ignored). A chunk counts as done only when its
file exists with the hash its line records.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from ..errors import InvalidParameterError
from ..models.fetch import sha256_file
from .media import Packet
from .worker import ChunkResult

MANIFEST = "anonymize-manifest.jsonl"
PARTS = ".anonymize-parts"
_MAGIC = b"EBPCHUNK1\n"


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name, flush to disk, rename: a reader never sees half a file."""
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def pack_chunk(result: ChunkResult) -> bytes:
    """A finished chunk as bytes: a JSON header (counts, packet table) and the packets' data."""
    header = {k: v for k, v in asdict(result).items() if k not in ("packets", "image")}
    header["packets"] = [[p.pts, p.dts, p.keyframe, len(p.data)] for p in result.packets]
    header["image"] = len(result.image)
    text = json.dumps(header, sort_keys=True).encode()
    return _MAGIC + struct.pack("<Q", len(text)) + text + b"".join(p.data for p in result.packets) + result.image


def unpack_chunk(data: bytes) -> ChunkResult:
    if not data.startswith(_MAGIC):
        raise ValueError("not a chunk file")
    (length,) = struct.unpack_from("<Q", data, len(_MAGIC))
    offset = len(_MAGIC) + 8
    header = json.loads(data[offset:offset + length])
    offset += length
    packets = []
    for pts, dts, keyframe, size in header.pop("packets"):
        packets.append(Packet(data[offset:offset + size], pts, dts, keyframe))
        offset += size
    image = data[offset:offset + header.pop("image")]
    return ChunkResult(**header, packets=tuple(packets), image=image)


class Manifest:
    """The output folder's manifest and chunk store."""

    def __init__(self, directory: Path, settings: dict, resume: bool):
        self.directory = directory
        self.path = directory / MANIFEST
        self.parts = directory / PARTS
        self.chunks: Dict[Tuple[str, int], str] = {}  # (file, chunk) -> sha256 of its chunk file
        self.files: Dict[str, dict] = {}  # file -> its latest "file" line
        self.completed: Dict[str, dict] = {}  # file -> its "complete" line (output sha256, figures)
        if self.path.exists():
            if not resume:
                raise InvalidParameterError(
                    f"{directory} holds a previous anonymize job ({MANIFEST}): add --resume to finish it, "
                    "or choose another --output-dir")
            self._read(settings)
        elif resume:
            raise InvalidParameterError(f"--resume: {directory} holds no job to resume (no {MANIFEST})")
        directory.mkdir(parents=True, exist_ok=True)
        self.parts.mkdir(exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")
        if not self.files and not self.chunks:
            self._append({"event": "job", "settings": settings})

    def _read(self, settings: dict) -> None:
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the line a crash cut short
            event = entry.get("event")
            if event == "job" and entry.get("settings") != settings:
                raise InvalidParameterError(
                    f"--resume: {self.path} was written with other settings ({entry.get('settings')}); "
                    "resume with the same options, or choose another --output-dir")
            if event == "file":
                self.files[entry["file"]] = entry
            elif event == "chunk":
                self.chunks[(entry["file"], entry["chunk"])] = entry["sha256"]
            elif event == "complete":
                self.completed[entry["file"]] = entry

    def _append(self, entry: dict) -> None:
        self._handle.write(json.dumps(entry, sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _chunk_path(self, key: str, index: int) -> Path:
        return self.parts / hashlib.sha256(key.encode()).hexdigest()[:16] / f"chunk-{index:06d}.bin"

    def start_file(self, key: str, input_sha256: str, frames: int, chunks: int) -> None:
        """Record a file; one whose input changed since the last run starts again from nothing."""
        previous = self.files.get(key)
        if previous is not None and previous["input_sha256"] != input_sha256:
            self.chunks = {k: v for k, v in self.chunks.items() if k[0] != key}
            self.completed.pop(key, None)
        if previous is None or previous["input_sha256"] != input_sha256:
            entry = {"event": "file", "file": key, "input_sha256": input_sha256, "frames": frames, "chunks": chunks}
            self.files[key] = entry
            self._append(entry)

    def done_chunk(self, key: str, index: int) -> Optional[ChunkResult]:
        """The finished chunk, if its file is there with the recorded hash."""
        recorded = self.chunks.get((key, index))
        path = self._chunk_path(key, index)
        if recorded is None or not path.exists():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != recorded:
            return None
        return unpack_chunk(data)

    def save_chunk(self, result: ChunkResult) -> None:
        data = pack_chunk(result)
        path = self._chunk_path(result.key, result.index)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
        digest = hashlib.sha256(data).hexdigest()
        self.chunks[(result.key, result.index)] = digest
        self._append({"event": "chunk", "file": result.key, "chunk": result.index, "sha256": digest,
                      "frames": result.frames, "fail_safe": result.error is not None, "error": result.error,
                      "worker": result.worker, "seconds": round(result.seconds, 3)})

    def is_complete(self, key: str, output: Path) -> bool:
        recorded = self.completed.get(key)
        return recorded is not None and output.exists() and sha256_file(output) == recorded["sha256"]

    def figures(self, key: str) -> dict:
        """What the run that finished a file reported of it."""
        return dict(self.completed[key].get("figures", {}))

    def complete(self, key: str, output: Path, chunks: int, figures: dict) -> None:
        entry = {"event": "complete", "file": key, "sha256": sha256_file(output), "figures": figures}
        self.completed[key] = entry
        self._append(entry)
        for index in range(chunks):
            self._chunk_path(key, index).unlink(missing_ok=True)

    def chunk_results(self, key: str, chunks: int) -> Iterator[ChunkResult]:
        for index in range(chunks):
            result = self.done_chunk(key, index)
            if result is None:
                raise RuntimeError(f"{key}: chunk {index} is missing from {self.parts}")
            yield result

    def close(self) -> None:
        self._handle.close()
