"""Sources in the daemon loop: files end or loop at their own pace, silent sources cannot spin the loop."""

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import SHARED
from edge_bodypix.daemon.outputs import MemoryOutput

STREET = SHARED / "videos" / "mmpose_demo_street_pedestrians.mp4"  # 5 frames at 5 fps
SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")


def silent_video(tmp_path):
    """The street clip with its media data zeroed: it opens (the index is intact) but decodes no frame."""
    data = bytearray(STREET.read_bytes())
    start = data.index(b"mdat") + 4
    size = int.from_bytes(data[start - 8:start - 4], "big")
    data[start:start - 8 + size] = bytes(size - 8)
    path = tmp_path / "silent.mp4"
    path.write_bytes(bytes(data))
    return path


def service_for(net, uri, **source):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.sources.factory import make_source

    config = load_config(None, {"http": {"listen": ""}, "source": {"uri": str(uri), **source}})
    collector = MemoryOutput()
    return Service(config, net=net, source=make_source(config.source), outputs=[collector]), collector


def test_a_file_without_loop_is_processed_once_then_the_daemon_exits_0(tmp_path):
    result = subprocess.run([SCRIPT, "serve", "--source", str(STREET), "--http", "", "--log-level", "info",
                             "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ended" in result.stderr and "reopening" not in result.stderr
    assert "stopped after 5 frames" in result.stderr


def test_files_play_at_their_own_frame_rate_unless_asked_to_go_fast(net):
    service, collector = service_for(net, STREET)
    started = time.monotonic()
    assert service.run() == 0
    assert len(collector.frames) == 5
    assert time.monotonic() - started >= 4 / 5  # 5 frames at 5 fps: the last one 0.8 s after the first
    fast, collected = service_for(net, STREET, realtime=False)
    assert fast.run() == 0 and len(collected.frames) == 5


def test_a_source_that_opens_but_yields_no_frame_is_reopened_with_backoff(net, tmp_path, caplog):
    service, _ = service_for(net, silent_video(tmp_path), loop=True, reopen_max_s=2.0)
    runner = threading.Thread(target=service.run)
    with caplog.at_level("INFO", logger="edge_bodypix"):
        runner.start()
        time.sleep(5)
        service.stop()
        runner.join(timeout=10)
    assert not runner.is_alive()
    # waits of 0.25, 0.5, 1, 2, 2 s: about 5 reopens in 5 s (it was 2556 reopens in 12 s)
    assert 2 <= service.metrics.counter("source_reopens") <= 6
    warnings = [r for r in caplog.records if "delivered no frame" in r.getMessage()]
    assert len(warnings) == 1  # one line per state change, not one per attempt
    assert len(caplog.records) < 20


def test_serve_flags_for_files_are_documented():
    help_text = subprocess.run([SCRIPT, "serve", "--help"], capture_output=True, text=True).stdout
    assert "--as-fast-as-possible" in help_text and "processed once" in help_text


class StallingCamera:
    """An HTTP MJPEG camera on loopback: 2 s of frames, then silence on the open connection; later
    connections are accepted and never answered."""

    def __init__(self):
        import socket

        import cv2
        import numpy as np

        self.jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.clients = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.clients.append(client)
            client.recv(4096)
            if len(self.clients) > 1:
                continue  # later connections: accepted, never answered
            part = (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(self.jpeg)).encode()
                    + b"\r\n\r\n" + self.jpeg + b"\r\n")
            client.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n")
            for _ in range(20):  # two seconds of frames, then silence on an open connection
                client.sendall(part)
                time.sleep(0.1)

    def close(self):
        self.stop.set()
        self.server.close()
        for client in self.clients:
            client.close()


@pytest.mark.slow
def test_a_camera_that_stalls_after_its_first_frame_keeps_the_watchdog_fed_and_publishes_black_frames(net, tmp_path):
    import socket

    from edge_bodypix.daemon.systemd import Notifier

    camera = StallingCamera()
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(0.2)
    service, collector = service_for(net, f"http://127.0.0.1:{camera.port}/stream.mjpg")
    watchdog_s = 12.0  # the notifier pings every WatchdogSec/2; a gap of WatchdogSec gets the daemon killed
    service.notifier = Notifier(address=path, watchdog_usec=str(int(watchdog_s * 1e6)))
    runner = threading.Thread(target=service.run)
    runner.start()
    pings = []
    try:
        deadline = time.monotonic() + 26  # 2 s of frames, then 24 s of a silent camera
        while time.monotonic() < deadline:
            try:
                if "WATCHDOG=1" in listener.recv(4096).decode():
                    pings.append(time.monotonic())
            except socket.timeout:
                pass
        stop_asked = time.monotonic()
        service.stop()
        runner.join(timeout=10)
        stopped_in = time.monotonic() - stop_asked
    finally:
        camera.close()
        listener.close()
    assert not runner.is_alive()
    assert stopped_in < 5  # the unit gives SIGTERM 10 s
    from edge_bodypix.daemon.sources.opencv import STREAM_TIMEOUT_S

    assert any(f.persons >= 0 for f in collector.frames)  # the camera's real frames came through first
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    # was one ping per 30 s against WatchdogSec=30: now every WatchdogSec/2, delayed at most by
    # one bounded reopen attempt
    assert len(gaps) >= 2 and max(gaps) < min(watchdog_s, watchdog_s / 2 + STREAM_TIMEOUT_S + 1.5), gaps
    black = [f for f in collector.frames if f.fully_protected and f.persons == -1]
    assert len(black) >= 3 and all(not f.image.any() for f in black)
