"""The work of one batch worker: load the network once, then protect chunks of video (and still images).

The same `ChunkWorker` runs in a local worker process and in a Ray actor.
Protection is the live daemon's (`daemon.processor.Processor`: the same
effect, margins, temporal guard and fail-closed rules), started fresh for
every chunk so a chunk's result depends on nothing but its input.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Optional, Tuple, Union

import cv2
import numpy as np

from ..errors import EdgeBodyPixError
from .chunks import Chunk
from .media import EncoderSpec, Encoder, Packet, decode

log = logging.getLogger("edge_bodypix.batch")


class WorkerStartError(EdgeBodyPixError):
    """A worker could not start (the model does not load, or fails its self-test): no chunk can be protected."""


@dataclass(frozen=True)
class Settings:
    """Everything that decides the output bytes, recorded in the manifest so `--resume` cannot mix jobs."""

    effect: str = "blur-faces"
    model: str = ""
    backend: str = "tflite"
    internal_resolution: Union[str, float] = "medium"
    chunk_seconds: float = 10.0
    overlap: int = 8
    models_dir: Tuple[str, ...] = ()

    def daemon_config(self):
        """The live daemon's configuration for the same protection (checked as the daemon checks it)."""
        from ..daemon.config import load_config

        return load_config(None, {
            "model": {"name": self.model, "backend": self.backend, "internal_resolution": self.internal_resolution,
                      "threads": 1, "pipeline": False, "infer_every": 1},
            "privacy": {"effect": self.effect},
            "http": {"listen": ""},
        })


@dataclass(frozen=True)
class ChunkJob:
    """A chunk of one video: its compressed input packets and how to decode and encode them."""

    key: str  # the input file's place in the job (its relative output name)
    chunk: Chunk
    codec: str
    extradata: Optional[bytes]
    time_base: Fraction
    frame_pts: Tuple[int, ...]  # pts of frames decode_from..end-1, in presentation order
    packets: Tuple[Packet, ...]
    spec: EncoderSpec


@dataclass(frozen=True)
class ImageJob:
    """A still image: its file bytes and extension (the output keeps the format)."""

    key: str
    data: bytes
    extension: str


@dataclass(frozen=True)
class ChunkResult:
    key: str
    index: int
    frames: int
    persons: int  # the most people in any one of its frames
    fully_protected: int  # frames the guard protected whole (stale or missing masks)
    packets: Tuple[Packet, ...] = ()
    image: bytes = b""  # for an ImageJob: the protected image file
    error: Optional[str] = None  # set when the chunk could not be protected (its frames are written black)
    seconds: float = 0.0  # the whole job in its worker
    codec_seconds: float = 0.0  # of which decoding and encoding
    worker: str = field(default="", compare=False)


class ChunkWorker:
    """Loads the network once (one interpreter thread) and protects the jobs given to it."""

    def __init__(self, settings: Settings):
        from ..loader import load
        from ..pipelining import FrameRunner
        from ..privacy.selftest import run_selftest

        self.settings, self.config = settings, settings.daemon_config()
        self.net = load(model=settings.model or None, backend=settings.backend, num_threads=1,
                        models_dir=list(settings.models_dir) or None, require_checksum=False)
        verdict = run_selftest(self.net, self.config.privacy.protection().target)
        if not verdict.passed:  # a network that fails its self-test protects nothing: every job fails closed
            raise EdgeBodyPixError(f"the network failed its self-test: {verdict.summary()}")
        self.runner = FrameRunner(self.net, threaded=False)
        self.name = f"{os.uname().nodename}:{os.getpid()}"

    def _processor(self):
        from ..daemon.metrics import Metrics
        from ..daemon.processor import Processor

        return Processor(self.runner, self.config, Metrics({}))

    def run(self, job: Union[ChunkJob, ImageJob]) -> ChunkResult:
        started = time.perf_counter()
        result = self._image(job) if isinstance(job, ImageJob) else self._chunk(job)
        return replace(result, seconds=time.perf_counter() - started, worker=self.name)

    def _chunk(self, job: ChunkJob) -> ChunkResult:
        from ..daemon.sources.base import Frame

        chunk = job.chunk
        index_of = {pts: chunk.decode_from + i for i, pts in enumerate(job.frame_pts)}
        processor, encoder = self._processor(), Encoder(job.spec)
        persons = fully = emitted = 0
        codec = 0.0
        prepared = []

        def wanted(pts: int) -> bool:
            index = index_of.get(pts)
            return index is not None and chunk.warm_from <= index < chunk.end

        frames = decode(job.codec, job.extradata, job.time_base, job.packets, wanted)
        while True:
            started = time.perf_counter()
            pts, image = next(frames, (None, None))
            codec += time.perf_counter() - started
            if pts is None:
                break
            if image is None:
                continue  # before the warm-up: decoded for the frames after it only
            index = index_of[pts]
            processed = processor.process(Frame(image, float(pts * job.time_base), index))
            if index < chunk.start:
                continue  # warming up the guard over the previous chunk's last frames
            started = time.perf_counter()
            prepared.append((encoder.prepare(processed.image), pts))
            codec += time.perf_counter() - started
            persons, fully, emitted = max(persons, processed.persons), fully + processed.fully_protected, emitted + 1
        if emitted != chunk.frames:
            raise EdgeBodyPixError(f"{job.key}: decoded {emitted} of the {chunk.frames} frames of chunk {chunk.index}")
        started = time.perf_counter()
        for planes, pts in prepared:  # back to back: see media.Encoder
            encoder.encode_prepared(planes, pts)
        packets = encoder.finish()
        codec += time.perf_counter() - started
        return ChunkResult(job.key, chunk.index, emitted, persons, fully, packets, codec_seconds=codec)

    def _image(self, job: ImageJob) -> ChunkResult:
        from ..daemon.sources.base import Frame

        bgr = cv2.imdecode(np.frombuffer(job.data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise EdgeBodyPixError(f"{job.key}: not an image OpenCV can read")
        processed = self._processor().process(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 0.0, 0))
        encoded = encode_image(processed.image, job.extension)
        return ChunkResult(job.key, 0, 1, max(processed.persons, 0), int(processed.fully_protected), image=encoded)


def encode_image(rgb: np.ndarray, extension: str) -> bytes:
    """An RGB image as a file of the given extension (JPEG at quality 95)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if extension.lower() in (".jpg", ".jpeg") else []
    ok, data = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise EdgeBodyPixError(f"cannot encode an image as {extension}")
    return data.tobytes()
