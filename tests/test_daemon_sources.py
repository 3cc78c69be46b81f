"""Sources in the daemon loop: files end or loop at their own pace, silent sources cannot spin the loop."""

import os
import subprocess
import sys
import threading
import time

from conftest import SHARED

STREET = SHARED / "videos" / "mmpose_demo_street_pedestrians.mp4"  # 5 frames at 5 fps
SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")


class Collector:
    def __init__(self):
        self.frames = []

    def start(self):
        pass

    def write(self, frame):
        self.frames.append(frame)

    def stop(self):
        pass


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
    collector = Collector()
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
