"""Video files through PyAV: probe, read a chunk's compressed packets, decode them, encode frames, assemble.

Compressed packets are what travels between the driver and the workers (on
one box or a Ray cluster): a chunk's input packets go out, its protected,
re-encoded packets come back, and the driver muxes them in order with the
input's audio copied unchanged. Every frame keeps its input timestamp.
Encoders run single-threaded without B-frames, so a chunk encodes to the same
bytes wherever and whenever it runs, and chunks join without reordering.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..errors import EdgeBodyPixError, InvalidParameterError


class MediaError(EdgeBodyPixError):
    """A video that cannot be read, decoded or written (names the file and what failed)."""


def import_av():
    try:
        import av
    except ImportError as exc:
        raise MediaError("anonymizing videos needs PyAV: pip install 'edge-bodypix[batch]'") from exc
    return av


#: Input codec -> (encoder, options) of the same family. Single-threaded and
#: without B-frames, for reproducible bytes and packets whose decode order is their presentation order.
ENCODERS: Dict[str, Tuple[str, Dict[str, str]]] = {
    "h264": ("libx264", {"crf": "21", "preset": "veryfast", "bf": "0", "threads": "1"}),
    "hevc": ("libx265", {"crf": "20", "preset": "veryfast",
                         "x265-params": "bframes=0:pools=none:frame-threads=1:log-level=error"}),
    "mpeg4": ("mpeg4", {"qscale": "3", "bf": "0", "threads": "1"}),
    "mjpeg": ("mjpeg", {"qscale": "3", "threads": "1"}),
    "vp8": ("libvpx", {"crf": "10", "b": "2M", "threads": "1", "auto-alt-ref": "0"}),
    "vp9": ("libvpx-vp9", {"crf": "30", "b": "0", "threads": "1", "row-mt": "0", "auto-alt-ref": "0"}),
}


@dataclass(frozen=True)
class Packet:
    """One compressed packet: its bytes and timestamps (in the stream's time base)."""

    data: bytes
    pts: Optional[int]
    dts: Optional[int]
    keyframe: bool


@dataclass(frozen=True)
class EncoderSpec:
    """How a file's protected frames are encoded: the same for every chunk and for the output stream."""

    encoder: str
    options: Tuple[Tuple[str, str], ...]
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    rate: Fraction

    def configure(self, context) -> None:
        context.width, context.height, context.pix_fmt = self.width, self.height, self.pix_fmt
        context.time_base, context.framerate = self.time_base, self.rate
        context.options = dict(self.options)


@dataclass(frozen=True)
class VideoInfo:
    """What the driver learns from demuxing a file once (no decoding)."""

    path: str
    codec: str
    extradata: Optional[bytes]
    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    frame_pts: Tuple[int, ...]  # every frame's pts, in presentation order
    keyframes: Tuple[int, ...]  # indices (into frame_pts) of the frames that start a decodable run
    audio_streams: int
    durations: Tuple[int, ...] = ()  # each frame's duration as the input gives it (0: not given), by frame_pts

    @property
    def frames(self) -> int:
        return len(self.frame_pts)

    def encoder_spec(self) -> EncoderSpec:
        if self.codec not in ENCODERS:
            raise MediaError(f"{self.path}: no encoder of the {self.codec!r} family is supported "
                             f"(supported: {', '.join(ENCODERS)})")
        name, options = ENCODERS[self.codec]
        pix_fmt = "yuvj420p" if name == "mjpeg" else "yuv420p"
        return EncoderSpec(name, tuple(sorted(options.items())), self.width, self.height, pix_fmt, self.time_base,
                           self.rate)


def _open(path: str):
    av = import_av()
    try:
        return av.open(path)
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path}: cannot open as a video ({exc})") from exc


def probe(path: str) -> VideoInfo:
    """Demux a file's first video stream: frame timestamps, keyframes, codec; refuse what cannot be protected."""
    av = import_av()
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise MediaError(f"{path}: the video stream has no frame rate")
        packets: List[Tuple[int, bool, int]] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    raise MediaError(f"{path}: a video packet has no timestamp; remux the file first "
                                     "(ffmpeg -i IN -c copy OUT.mkv)")
                packets.append((int(packet.pts), bool(packet.is_keyframe), int(packet.duration or 0)))
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: cannot be demuxed ({exc})") from exc
        if not packets:
            raise MediaError(f"{path}: the video stream holds no frames")
        order = sorted(packets)
        if len({pts for pts, _, _ in order}) != len(order):
            raise MediaError(f"{path}: two video frames share a timestamp; remux the file first")
        keyframes = tuple(i for i, (_, key, _) in enumerate(order) if key)
        if not keyframes or keyframes[0] != 0:
            raise MediaError(f"{path}: the video does not start with a keyframe")
        return VideoInfo(
            path=path, codec=ctx.name, extradata=bytes(ctx.extradata) if ctx.extradata else None,
            width=int(ctx.width), height=int(ctx.height), time_base=Fraction(stream.time_base), rate=Fraction(rate),
            frame_pts=tuple(pts for pts, _, _ in order), keyframes=keyframes,
            audio_streams=len(container.streams.audio), durations=tuple(duration for _, _, duration in order),
        )


def read_packets(info: VideoInfo, first: int, end: int) -> Tuple[Packet, ...]:
    """The packets a decoder needs for frames first..end-1: from the keyframe frame `first` (a keyframe
    index) to the first keyframe at or after `end`, plus that GOP's leading frames shown before `end`."""
    av = import_av()
    start_pts = info.frame_pts[first]
    end_pts = info.frame_pts[end] if end < info.frames else None
    out: List[Packet] = []
    with _open(info.path) as container:
        stream = container.streams.video[0]
        try:
            container.seek(start_pts, stream=stream, backward=True, any_frame=False)
            started, past_end = False, False
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                pts = int(packet.pts)
                if not started:
                    if not (packet.is_keyframe and pts == start_pts):
                        continue
                    started = True
                if end_pts is not None and packet.is_keyframe and pts >= end_pts:
                    if past_end:
                        break
                    past_end = True
                    continue
                if past_end and pts >= end_pts:
                    continue
                out.append(Packet(bytes(packet), pts, None if packet.dts is None else int(packet.dts),
                                  bool(packet.is_keyframe)))
        except av.error.FFmpegError as exc:
            raise MediaError(f"{info.path}: cannot read frames {first}..{end - 1} ({exc})") from exc
    if not out:
        raise MediaError(f"{info.path}: no packets found for frames {first}..{end - 1}")
    return tuple(out)


def decode(codec: str, extradata: Optional[bytes], time_base: Fraction, packets: Sequence[Packet],
           wanted: Optional[Callable[[int], bool]] = None) -> Iterator[Tuple[int, Optional[np.ndarray]]]:
    """(pts, HxWx3 uint8 RGB) for every frame the packets decode to, in presentation order.

    Frames for which `wanted(pts)` is false (those between a chunk's keyframe
    and its warm-up) are decoded, as the next ones need, but not converted:
    their image is None.
    """
    av = import_av()
    context = av.CodecContext.create(codec, "r")
    if extradata:
        context.extradata = extradata
    context.thread_count = 1

    def frames(packet):
        for frame in context.decode(packet):
            pts = int(frame.pts)
            yield pts, (to_rgb(frame) if wanted is None or wanted(pts) else None)

    for item in packets:
        packet = av.Packet(item.data)
        packet.pts, packet.dts, packet.time_base = item.pts, item.dts, time_base
        yield from frames(packet)
    yield from frames(None)


#: AVColorRange of full-range ("JPEG") video, which OpenCV's I420 conversion does not expect.
_FULL_RANGE = 2


def to_rgb(frame) -> np.ndarray:
    """A decoded frame as HxWx3 uint8 RGB.

    8-bit 4:2:0 video of studio range, nearly all camera and NVR footage,
    converts with OpenCV's BT.601 (the matrix `Encoder.prepare` uses the other
    way, so untouched pixels come back as they were), several times cheaper
    than swscale; other formats go through swscale.
    """
    if (frame.format.name == "yuv420p" and frame.width % 2 == 0 and frame.height % 2 == 0
            and getattr(frame, "color_range", 0) != _FULL_RANGE):
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420)
    return frame.to_ndarray(format="rgb24")


class Encoder:
    """Encodes RGB frames with an `EncoderSpec`, keeping each frame's timestamp.

    Feed it frames in one run (`prepare` them first, `encode_prepared` them
    together): libx264 gave two different byte streams for the same frames,
    at random, when other work ran between its calls; fed back to back it
    gives the same bytes every time.
    """

    def __init__(self, spec: EncoderSpec):
        av = import_av()
        self._av = av
        self.context = av.CodecContext.create(spec.encoder, "w")
        spec.configure(self.context)
        self.context.flags |= av.codec.context.Flags.global_header
        self.time_base = spec.time_base
        self._i420 = spec.pix_fmt == "yuv420p" and spec.width % 2 == 0 and spec.height % 2 == 0
        self.packets: List[Packet] = []

    def _keep(self, packets) -> None:
        self.packets += [Packet(bytes(p), int(p.pts), int(p.dts), bool(p.is_keyframe)) for p in packets]

    def encode(self, image: np.ndarray, pts: int) -> None:
        self.encode_prepared(self.prepare(image), pts)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """An RGB frame in the form `encode_prepared` takes (I420 by OpenCV's BT.601 conversion, 6x cheaper than
        swscale's; 1.5 bytes a pixel to hold)."""
        return cv2.cvtColor(image, cv2.COLOR_RGB2YUV_I420) if self._i420 else np.ascontiguousarray(image)

    def encode_prepared(self, prepared: np.ndarray, pts: int) -> None:
        if self._i420:
            # The encoder reads this contiguous buffer itself, not a copy in planes PyAV allocates. libx264 reads
            # past the luma plane's last row when the height is not a multiple of 16 (its bottom macroblocks):
            # in PyAV's planes that memory held whatever the allocator left there, and the 960x540 street clip
            # came out as one of several byte streams (P-frames' bottom rows up to 9 levels apart; 3 streams in
            # 4 runs of two workers). Here the chroma planes follow: 6 runs of 6 gave the same bytes.
            frame = self._av.VideoFrame.from_numpy_buffer(prepared, format="yuv420p")
        else:
            frame = self._av.VideoFrame.from_ndarray(prepared, format="rgb24")
        frame.pts, frame.time_base = pts, self.time_base
        self._keep(self.context.encode(frame))

    def finish(self) -> Tuple[Packet, ...]:
        self._keep(self.context.encode(None))
        return tuple(self.packets)


def black_chunk(spec: EncoderSpec, frame_pts: Iterable[int]) -> Tuple[Packet, ...]:
    """A chunk of black frames with the given timestamps: what a chunk that failed is written as."""
    encoder = Encoder(spec)
    black = np.zeros((spec.height, spec.width, 3), np.uint8)
    for pts in frame_pts:
        encoder.encode(black, pts)
    return encoder.finish()


def assemble(info: VideoInfo, spec: EncoderSpec, chunks: Iterable[Sequence[Packet]], output: str) -> int:
    """Write `output`: the chunks' video packets in order and every audio stream of the input copied
    unchanged, interleaved by time. Each frame keeps the input's duration, which decides how long a
    variable-frame-rate video's last frame shows. Returns the number of video packets written."""
    av = import_av()
    written = 0
    duration_of = dict(zip(info.frame_pts, info.durations))
    try:
        with _open(info.path) as source, av.open(output, "w", format=_format_for(info.path)) as target:
            video = target.add_stream(spec.encoder, rate=spec.rate)
            spec.configure(video.codec_context)
            video.time_base = spec.time_base
            audio_in = list(source.streams.audio)
            audio_out = [target.add_stream_from_template(stream) for stream in audio_in]
            target.start_encoding()
            audio_packets = source.demux(*audio_in) if audio_in else iter(())
            pending = next(audio_packets, None)
            for chunk in chunks:
                for item in chunk:
                    seconds = float(item.pts * spec.time_base)
                    while pending is not None and (pending.pts is None or pending.size == 0
                                                   or float(pending.pts * pending.time_base) <= seconds):
                        _copy_audio(target, pending, audio_in, audio_out)
                        pending = next(audio_packets, None)
                    packet = av.Packet(item.data)
                    packet.pts, packet.dts, packet.time_base = item.pts, item.dts, spec.time_base
                    packet.is_keyframe = item.keyframe
                    if duration_of.get(item.pts):
                        packet.duration = duration_of[item.pts]
                    packet.stream = video
                    target.mux(packet)
                    written += 1
            while pending is not None:
                _copy_audio(target, pending, audio_in, audio_out)
                pending = next(audio_packets, None)
    except av.error.FFmpegError as exc:
        raise MediaError(f"{output}: cannot be written ({exc})") from exc
    return written


def _copy_audio(target, packet, audio_in, audio_out) -> None:
    if packet.size == 0 or packet.dts is None:
        return
    packet.stream = audio_out[audio_in.index(packet.stream)]
    target.mux(packet)


def _format_for(path: str) -> Optional[str]:
    """The muxer for the input's extension, so the output is the same container (None: FFmpeg chooses by name)."""
    extension = os.path.splitext(path)[1].lower()
    if not extension:
        raise InvalidParameterError(f"{path}: a video needs a file extension to choose its container")
    return {".mkv": "matroska", ".mov": "mov", ".mp4": "mp4", ".m4v": "mp4", ".avi": "avi",
            ".webm": "webm", ".ts": "mpegts"}.get(extension)
