"""Glass-to-RTSP latency: from the moment a frame leaves the source to the moment an RTSP client has decoded it.

Runs the real daemon loop (default model, "medium", face blurring, pipelined)
on the shared walking-person video at its own frame rate, with the RTSP output
and nothing else. Every frame gets its index stamped into its pixels (16 black
or white blocks at mid-height near the left edge, where no face walks); a real client (FFmpeg through PyAV, RTSP over TCP, no
client-side buffering) decodes the stream and reads each index back. In one run
it prints, per H.264 encoder installed, the median, 90th percentile and worst
latency over the measured frames, split into the daemon's part (source read to
the frame handed to the outputs: inference, protection) and the stream's part
(encoding, RTP, decoding), and how many frames reached the client.

The clock is one process's `time.monotonic`, so no clock sync enters. What it
does not see: the camera's own sensor-to-driver delay before the daemon reads a
frame, and a player's jitter buffer (VLC adds about 1 s by default; ffplay
with -fflags nobuffer and Frigate/go2rtc add little).

    python benchmarks/rtsp_latency.py [--seconds 20] [--warmup 3] [--encoder x264enc] [--json]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

import numpy as np

from common import SHARED, Column, finish

VIDEO = SHARED / "videos" / "one-by-one-person-detection.mp4"
BITS, BLOCK, GAP = 16, 12, 4


def stamp_origin(shape) -> tuple:
    """Top-left of the stamp: mid-height, near the left edge (where the walkers of the shared video do not go)."""
    height, width = shape[:2]
    return int(height * 0.55), int(width * 0.04)


def stamp(image: np.ndarray, index: int) -> None:
    """Write `index` (16 bits) into the image as blocks: white = 1, black = 0."""
    y, x = stamp_origin(image.shape)
    for bit in range(BITS):
        left = x + bit * (BLOCK + GAP)
        image[y:y + BLOCK, left:left + BLOCK] = 255 if (index >> bit) & 1 else 0


def read_stamp(image: np.ndarray) -> Optional[int]:
    """The index a decoded frame carries, or None when a block is neither clearly black nor white."""
    y, x = stamp_origin(image.shape)
    index = 0
    for bit in range(BITS):
        left = x + bit * (BLOCK + GAP)
        level = image[y + 3:y + BLOCK - 3, left + 3:left + BLOCK - 3].mean()
        if 70 < level < 185:
            return None
        index |= int(level >= 128) << bit
    return index


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(encoder: str, seconds: float, warmup: float) -> dict:
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.outputs import Output, RtspOutput
    from edge_bodypix.daemon.service import Service, load_network
    from edge_bodypix.daemon.sources.opencv import OpenCVSource
    from edge_bodypix.daemon.sources.prefetch import PrefetchingSource
    from edge_bodypix.daemon.systemd import Notifier

    import av

    read_at: Dict[int, float] = {}
    emitted_at: Dict[int, float] = {}

    class StampedSource(OpenCVSource):
        def read(self):
            frame = super().read()
            if frame is not None:
                stamp(frame.image, frame.index % (1 << BITS))
                read_at[frame.index % (1 << BITS)] = frame.timestamp
            return frame

    class EmitTimes(Output):
        def write(self, frame) -> None:
            emitted_at[frame.index % (1 << BITS)] = time.monotonic()

    state = tempfile.mkdtemp(prefix="rtsp-latency-")
    port = free_port()
    config = load_config("", {"source": {"uri": str(VIDEO), "loop": True, "realtime": True},
                              "http": {"listen": ""}, "service": {"state_directory": state}})
    net = load_network(config)
    source = PrefetchingSource(StampedSource(str(VIDEO), loop=True, realtime=True), drop_old=False)  # as make_source
    rtsp = RtspOutput("127.0.0.1", port, "/latency", encoder=encoder, frame_rate=lambda: source.frame_rate or 10.0,
                      frame_size=lambda: (432, 768))
    service = Service(config, net=net, source=source, outputs=[EmitTimes(), rtsp], notifier=Notifier(address=""))
    loop = threading.Thread(target=service.run, name="daemon", daemon=True)
    loop.start()
    deadline = time.monotonic() + 60
    while not emitted_at and time.monotonic() < deadline:
        time.sleep(0.1)
    options = {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay"}
    samples: List[tuple] = []
    received = unreadable = 0
    container = av.open(f"rtsp://127.0.0.1:{port}/latency", options=options, timeout=(10, 10))
    container.streams.video[0].thread_type = "SLICE"  # frame threads would hold frames in the decoder
    try:
        started = time.monotonic()
        for frame in container.decode(video=0):
            now = time.monotonic()
            if now - started < warmup:
                continue
            received += 1
            index = read_stamp(frame.to_ndarray(format="gray"))
            if index is None or index not in read_at or index not in emitted_at:
                unreadable += 1
            else:
                samples.append((emitted_at[index] - read_at[index], now - emitted_at[index], now - read_at[index]))
            if now - started >= warmup + seconds:
                break
    finally:
        container.close()
        service.stop()
        loop.join(timeout=15)
    if not samples:
        raise SystemExit(f"{encoder}: no stamped frame came back ({received} received, {unreadable} unreadable)")
    daemon_ms, stream_ms, total_ms = (np.array(column) * 1e3 for column in zip(*samples))
    return {"encoder": encoder, "description": rtsp.encoder.description, "frames": len(samples), "received": received,
            "unreadable": unreadable, "expected": round(seconds * (source.frame_rate or 10.0)),
            "daemon_median_ms": round(float(np.median(daemon_ms)), 1),
            "stream_median_ms": round(float(np.median(stream_ms)), 1),
            "median_ms": round(float(np.median(total_ms)), 1),
            "p90_ms": round(float(np.percentile(total_ms, 90)), 1), "max_ms": round(float(total_ms.max()), 1)}


def installed_encoders() -> List[str]:
    from edge_bodypix.daemon.outputs.h264 import ENCODERS
    from edge_bodypix.daemon.outputs.rtsp import import_gstreamer

    Gst = import_gstreamer()[0]
    return [e.element for e in ENCODERS if Gst.ElementFactory.find(e.element) is not None]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per encoder")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of stream not measured (FFmpeg's probing)")
    parser.add_argument("--encoder", action="append", help="an encoder element (default: every one installed)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(encoder, args.seconds, args.warmup) for encoder in (args.encoder or installed_encoders())]
    report = {"video": VIDEO.name, "cores": os.cpu_count(), "rows": rows}
    columns = [Column("encoder", "description"), Column("frames", "frames"), Column("unreadable", "unreadable"),
               Column("daemon ms (median)", "daemon_median_ms", ".1f"),
               Column("stream ms (median)", "stream_median_ms", ".1f"),
               Column("glass-to-RTSP ms (median)", "median_ms", ".1f"), Column("p90 ms", "p90_ms", ".1f"),
               Column("max ms", "max_ms", ".1f")]
    heading = [f"Glass-to-RTSP latency, {VIDEO.name} at its own rate, default model, blur-faces, "
               f"{os.cpu_count()} cores, {args.seconds:g} s per encoder after {args.warmup:g} s warm-up", ""]
    footer = ["", "daemon = source read to outputs (inference, protection); stream = encode, RTP over TCP, the "
              "client's demuxing and decoding (FFmpeg's H.264 parser holds each frame until the next one starts: "
              "one frame period). unreadable = frames whose stamp the protection covered (the border protection "
              f"blurs regions that move at the frame's edge). Frames expected per encoder: {rows[0]['expected']}."]
    return finish(report, args.json, heading, columns, rows, footer)


if __name__ == "__main__":
    sys.exit(main())
