"""Download and verify catalogue models.

Downloads stream to a temporary file beside the destination and are renamed
into place only once complete and verified, so an interrupted or corrupt
download never leaves a file under the model's final name. tfjs checkpoints
(`model.json` plus weight shards) fetch their shards first and `model.json`
last, so a present `model.json` means a complete checkpoint.

A mirror (`fetch(..., mirror=URL)`, `models fetch --mirror URL`) is any HTTP
server holding a model directory's layout: `<mirror>/<catalogue file>`, e.g.
`python3 -m http.server` in a folder that `models fetch` filled. The tfjs
checkpoints' catalogue paths are their official addresses below
`https://storage.googleapis.com/tfjs-models/savedmodel/`, so a copy of that
storage's layout under `tfjs/` serves too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, List, Optional, Sequence

from edge_bodypix.errors import FetchError

from .catalogue import ModelSpec
from .store import PathLike, default_fetch_dir, locate

CHUNK = 1 << 16
USER_AGENT = "edge-bodypix-model-fetch"


def sha256_file(path: PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Progress:
    """A one-line progress bar on a terminal; start and end lines elsewhere (logs, CI)."""

    def __init__(self, label: str, total: Optional[int], stream: Optional[IO[str]] = sys.stderr):
        self.label = label
        self.total = total
        self.stream = stream
        self.done = 0
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self._last = 0.0
        if stream is not None and not self.tty:
            size = f" ({total / 1e6:.1f} MB)" if total else ""
            stream.write(f"fetching {label}{size}\n")

    def update(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.tty and now - self._last > 0.1:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        assert self.stream is not None
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"\r{self.label} [{bar:<30}] {self.done / 1e6:6.1f}/{self.total / 1e6:.1f} MB {share:4.0%}"
        else:
            text = f"\r{self.label} {self.done / 1e6:6.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.stream is None:
            return
        if self.tty:
            self._draw()
            self.stream.write("\n")
        else:
            self.stream.write(f"fetched {self.label} ({self.done / 1e6:.1f} MB)\n")
        self.stream.flush()


def download(
    url: str, destination: PathLike, sha256: Optional[str] = None,
    progress: Optional[IO[str]] = sys.stderr, label: Optional[str] = None, timeout: float = 60.0,
) -> Path:
    """Download `url` to `destination` atomically, checking `sha256` when given."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                response = urllib.request.urlopen(request, timeout=timeout)
            except (urllib.error.URLError, OSError) as exc:
                raise FetchError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from exc
            with response:
                length = response.headers.get("Content-Length")
                bar = Progress(label or destination.name, int(length) if length else None, progress)
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
                except (urllib.error.URLError, OSError) as exc:
                    raise FetchError(f"download of {url} was interrupted: {exc}") from exc
                bar.close()
                if length is not None and bar.done != int(length):
                    raise FetchError(f"download of {url} is incomplete: {bar.done} of {length} bytes")
        actual = digest.hexdigest()
        if sha256 and actual != sha256.lower():
            raise FetchError(
                f"checksum mismatch for {url}: expected sha256 {sha256}, got {actual}; nothing was installed"
            )
        os.replace(temporary, destination)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return destination


def _tfjs_shards(model_json: Path, url: str) -> List[str]:
    try:
        with open(model_json, "r", encoding="utf-8") as handle:
            manifest = json.load(handle)["weightsManifest"]
        return [path for group in manifest for path in group["paths"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"{url} is not a tfjs graph model (no readable weightsManifest): {exc}") from exc


def source_url(spec: ModelSpec, mirror: Optional[str] = None) -> str:
    """Where `spec` is downloaded from: its official address, or its path below `mirror`."""
    if not mirror:
        return spec.url or ""
    return mirror.rstrip("/") + "/" + urllib.parse.quote(spec.file)


def fetch(
    spec: ModelSpec, directory: Optional[PathLike] = None, force: bool = False,
    progress: Optional[IO[str]] = sys.stderr, mirror: Optional[str] = None,
) -> Path:
    """Install a catalogue model into `directory` (default: `default_fetch_dir()`); return its path.

    Every file whose sha256 the catalogue knows (a tfjs checkpoint's `model.json` and its shards
    included) is checked before it is installed."""
    if not spec.url:
        raise FetchError(
            f"{spec.name} has no download address: it is produced locally with '{spec.fetch_command}'"
        )
    url = source_url(spec, mirror)
    root = Path(directory) if directory else default_fetch_dir()
    target = root / spec.file
    if not force:  # installed already: in `directory` when one is given, else anywhere models are searched
        existing = (target if target.is_file() else None) if directory else locate(spec)
        if existing is not None:
            return existing
    if spec.format != "tfjs":
        return download(url, target, spec.sha256, progress, spec.name)
    # model.json to a temporary name first: read its shard list, fetch the shards, then publish it.
    staging = target.with_name(f".{target.name}.manifest")
    download(url, staging, spec.sha256, progress, f"{spec.name} model.json")
    try:
        for shard in _tfjs_shards(staging, url):
            shard_path = target.parent / shard
            known = spec.shards.get(shard)
            if not force and known and shard_path.is_file() and sha256_file(shard_path) == known:
                continue  # the other stride's checkpoint brought it already
            download(urllib.parse.urljoin(url, shard), shard_path, known, progress, f"{spec.name} {shard}")
        os.replace(staging, target)
    finally:
        if staging.exists():
            staging.unlink()
    return target


@dataclass(frozen=True)
class Verification:
    """Outcome of checking one catalogue model on disk."""

    spec: ModelSpec
    path: Optional[Path]
    status: str  # "ok", "mismatch", "missing", "unverified" (no checksum known)
    detail: str = ""


def verify(spec: ModelSpec, dirs: Optional[Sequence[PathLike]] = None) -> Verification:
    """Compare an installed model's sha256 with the catalogue's (a tfjs checkpoint's shards too)."""
    path = locate(spec, dirs)
    if path is None:
        return Verification(spec, None, "missing")
    if not spec.sha256:
        return Verification(spec, path, "unverified", "no checksum in the catalogue")
    actual = sha256_file(path)
    if actual != spec.sha256:
        return Verification(spec, path, "mismatch", f"sha256 {actual}, expected {spec.sha256}")
    for shard, expected in sorted(spec.shards.items()):
        shard_path = path.parent / shard
        if not shard_path.is_file():
            return Verification(spec, path, "mismatch", f"weight shard {shard_path} is missing")
        actual = sha256_file(shard_path)
        if actual != expected:
            return Verification(spec, path, "mismatch", f"{shard}: sha256 {actual}, expected {expected}")
    return Verification(spec, path, "ok")
