"""The camera daemon end to end: real model, real video, real HTTP and a real notify socket."""

import json
import os
import shutil
import socket
import subprocess
import time
try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib
import urllib.request
from dataclasses import fields

import cv2
import numpy as np
import pytest

from conftest import ROOT, SHARED
from daemon_process import SCRIPT, VIDEO, Daemon, get
from edge_bodypix.daemon.outputs import MemoryOutput
from edge_bodypix.pipelining import FrameRunner

@pytest.fixture
def daemon(tmp_path):
    instance = Daemon(tmp_path)
    yield instance
    if instance.process.poll() is None:
        instance.process.kill()
        instance.process.wait()


def face_region_of_source_frame(net, index):
    capture = cv2.VideoCapture(str(VIDEO))
    capture.set(cv2.CAP_PROP_POS_FRAMES, (index - 1) % int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    parts = net.segment_person_parts(rgb)
    return rgb, np.isin(parts.data, (0, 1))


def test_daemon_serves_protected_frames_metrics_health_and_stops_on_sigterm(daemon, net):
    assert daemon.wait_for("READY=1"), daemon.messages
    assert daemon.wait_for("WATCHDOG=1")
    status, headers, body = get(daemon.url("/healthz"))
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["frames"] > 0
    # find a snapshot with a person, then compare its face with the source frame it came from
    protected_faces = 0
    for _ in range(60):
        status, headers, jpeg = get(daemon.url("/snapshot.jpg"))
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        frame = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert frame.shape == (432, 768, 3)
        source, faces = face_region_of_source_frame(net, int(headers["X-Frame-Index"]))
        if faces.sum() > 200:
            difference = np.abs(frame.astype(int) - source)[faces].mean()
            background = np.abs(frame.astype(int) - source)[~faces].mean()
            assert difference > 3 * background and difference > 8
            protected_faces += 1
            if protected_faces == 3:
                break
        time.sleep(0.3)
    assert protected_faces >= 1
    # the MJPEG stream delivers consecutive protected JPEG frames
    with urllib.request.urlopen(daemon.url("/stream.mjpg"), timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        data = b""
        while data.count(b"\xff\xd9") < 3:
            data += stream.read(65536)
    assert data.count(b"Content-Type: image/jpeg") >= 3
    # every part says whether it is a fail-safe black frame, as snapshots do
    assert data.count(b"X-Fully-Protected: ") >= 3 and data.count(b"X-Frame-Index: ") >= 3
    status, _, metrics = get(daemon.url("/metrics"))
    text = metrics.decode()
    for name in ("edge_bodypix_frames_in", "edge_bodypix_frames_out", "edge_bodypix_inference_latency_seconds_bucket",
                 "edge_bodypix_end_to_end_latency_seconds_count", 'edge_bodypix_info{backend='):
        assert name in text
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 10
    assert any("STOPPING=1" in m for m in daemon.messages)
    assert "stopped after" in daemon.process.stderr.read()


def test_daemon_requires_a_token_beyond_loopback_and_checks_it(tmp_path):
    result = subprocess.run([SCRIPT, "serve", "--check-config", "--http", "0.0.0.0:8080"], capture_output=True, text=True)
    assert result.returncode == 2 and "set http.token" in result.stderr
    instance = Daemon(tmp_path, "--token", "s3cret")
    try:
        assert instance.wait_for("READY=1")
        with pytest.raises(urllib.error.HTTPError) as denied:
            get(instance.url("/snapshot.jpg"))
        assert denied.value.code == 401
        status, _, _ = get(instance.url("/snapshot.jpg?token=s3cret"))
        assert status == 200
        status, _, body = get(instance.url("/healthz"))  # health stays open for probes...
        assert status == 200 and set(json.loads(body)) == {"status", "last_frame_age_s"}  # ...but tells no counts
        assert "frames" in json.loads(get(instance.url("/healthz?token=s3cret"))[2])
    finally:
        assert instance.stop() == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("[model]\nthreads = 'many'\n", "model.threads = 'many': must be a number"),
        ("[privacy]\neffect = 'sepia'\n", "privacy.effect = 'sepia': allowed values are blur-faces"),
        ("[camera]\nuri = 'x'\n", "unknown section [camera]"),
        ("[source]\nurl = 'x'\n", "unknown key source.url"),
        ("[source\n", "not valid TOML"),
        ("[model]\ninternal_resolution = 'ultra'\n", "model.internal_resolution = 'ultra'"),
    ],
)
def test_bad_configuration_is_rejected_naming_the_key(tmp_path, content, message):
    config = tmp_path / "config.toml"
    config.write_text(content)
    result = subprocess.run([SCRIPT, "serve", "--check-config", "--config", str(config)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr


def test_example_config_documents_every_key_and_validates():
    from edge_bodypix.daemon.config import Config, load_config

    example = ROOT / "systemd" / "config.toml"
    data = tomllib.loads(example.read_text())
    for section in fields(Config):
        keys = {f.name for f in fields(section.default_factory())}
        assert set(data[section.name]) == keys, section.name
    assert load_config(str(example)) == Config()  # the example lists the defaults


def test_systemd_unit_verifies_and_is_well_sandboxed(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (ROOT / "systemd" / "edge-bodypix.service").read_text()
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "Restart=on-failure" in unit
    # verify needs ExecStart to exist on this machine
    local = tmp_path / "edge-bodypix.service"
    local.write_text(unit.replace("/opt/edge-bodypix/bin/edge-bodypix", shutil.which("true")))
    verify = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True)
    problems = [line for line in verify.stderr.splitlines() if "edge-bodypix.service" in line and "user" not in line.lower()]
    assert verify.returncode == 0 or not problems, verify.stderr
    security = subprocess.run([analyze, "security", "--offline=true", str(local)], capture_output=True, text=True)
    line = [text for text in security.stdout.splitlines() if "Overall exposure level" in text]
    assert line, security.stdout + security.stderr
    exposure = float(line[0].split("level for edge-bodypix.service:")[1].split()[0])
    assert exposure <= 2.0


class FlakyNet:
    """The real network whose interpreter fails on chosen inference calls."""

    def __init__(self, net, fail_on):
        self.net, self.fail_on, self.calls = net, set(fail_on), 0

    def infer(self, *args, **kwargs):
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("injected interpreter failure")
        return self.net.infer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.net, name)


class FaultySource:
    """The shared video, with a corrupt frame and a vanishing source injected."""

    def __init__(self, corrupt_at, vanish_at):
        from edge_bodypix.daemon.sources import OpenCVSource

        self.inner = OpenCVSource(str(VIDEO), loop=True)
        self.description = "faulty test source"
        self.corrupt_at, self.vanish_at = corrupt_at, vanish_at
        self.reads = 0
        self.opens = 0
        self.raw = {}

    def open(self):
        self.opens += 1
        self.inner.open()

    def read(self):
        self.reads += 1
        if self.reads == self.vanish_at:
            return None
        frame = self.inner.read()
        if frame is None:
            return None
        if self.reads == self.corrupt_at:
            frame.image = np.zeros((3,), np.uint8)
        else:
            self.raw[frame.index] = frame.image.copy()
        return frame

    def close(self):
        self.inner.close()


def test_faults_yield_protected_frames_and_no_crash(net):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.systemd import Notifier

    config = load_config(None, {"source": {"uri": str(VIDEO)}, "http": {"listen": ""},
                                "service": {"max_frames": 40}, "privacy": {"effect": "blur-faces", "hold_frames": 0}})
    source, collector = FaultySource(corrupt_at=7, vanish_at=15), MemoryOutput()
    flaky = FlakyNet(net, fail_on={3, 20})
    service = Service(config, net=flaky, source=source, outputs=[collector], notifier=Notifier(address=""))
    assert service.run() == 0
    frames = collector.frames
    assert len(frames) == 40
    assert source.opens == 2  # reopened after vanishing
    full = [f for f in frames if f.fully_protected]
    assert len(full) >= 3  # two inference failures and the corrupt frame
    for f in full:
        assert not f.image.any()  # black, never the captured frame
    assert service.metrics.counter("errors", kind="inference") == 2
    assert service.metrics.counter("errors", kind="frame") == 1
    assert service.metrics.counter("errors", kind="source_lost") == 1
    for f in frames:
        if not f.fully_protected and f.index in source.raw:
            assert f.image.shape == source.raw[f.index].shape


@pytest.mark.parametrize("effect", ["blur-persons", "pixelate-faces"])
def test_pipelined_inference_emits_the_same_frames_in_order_as_sequential(net, effect):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.sources import OpenCVSource
    from edge_bodypix.daemon.systemd import Notifier

    runs = {}
    for pipeline in (False, True):
        config = load_config(None, {"source": {"uri": str(VIDEO)}, "http": {"listen": ""},
                                    "service": {"max_frames": 12}, "privacy": {"effect": effect},
                                    "model": {"pipeline": pipeline, "infer_every": 2}})
        collector = MemoryOutput()
        service = Service(config, net=net, source=OpenCVSource(str(VIDEO)), outputs=[collector],
                          notifier=Notifier(address=""))
        assert service.run() == 0
        runs[pipeline] = collector.frames
    sequential, pipelined = runs[False], runs[True]
    assert [f.index for f in pipelined] == [f.index for f in sequential] == list(range(1, 13))
    for a, b in zip(sequential, pipelined):
        assert a.fully_protected == b.fully_protected
        np.testing.assert_array_equal(a.image, b.image)


@pytest.mark.parametrize("waiting", [True, False])
def test_a_frame_is_not_held_for_a_next_frame_that_has_not_arrived(net, waiting):
    """Pipelined, frame N is finished while N+1 is inferred; but when N+1 is not there yet (a live camera
    slower than the processing) N goes out first instead of waiting a frame period for it."""
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.sources import OpenCVSource
    from edge_bodypix.daemon.systemd import Notifier

    events = []

    class Camera(OpenCVSource):
        def frame_ready(self):
            return not waiting

        def read(self):
            frame = super().read()
            events.append(("read", frame.index))
            return frame

    class Log(MemoryOutput):
        def write(self, frame):
            events.append(("emit", frame.index))

    config = load_config(None, {"source": {"uri": str(VIDEO)}, "http": {"listen": ""}, "service": {"max_frames": 5}})
    service = Service(config, net=net, source=Camera(str(VIDEO)), outputs=[Log()], notifier=Notifier(address=""))
    assert service.runner.threaded, "needs 2 cores to pipeline"
    assert service.run() == 0
    if waiting:
        assert events == [(kind, i) for i in range(1, 6) for kind in ("read", "emit")]
    else:  # frames at hand: N+1 is read (and its inference started) before N goes out
        assert events.index(("read", 2)) < events.index(("emit", 1))
        assert [e for e in events if e[0] == "emit"] == [("emit", i) for i in range(1, 6)]


@pytest.mark.parametrize("pipeline", [False, True])
def test_a_single_frame_run_still_reports_ready_and_emits_its_frame(tmp_path, net, pipeline):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.sources import OpenCVSource
    from edge_bodypix.daemon.systemd import Notifier

    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        listener.settimeout(2)
        config = load_config(None, {"http": {"listen": ""}, "service": {"max_frames": 1},
                                    "model": {"pipeline": pipeline}})
        collector = MemoryOutput()
        service = Service(config, net=net, source=OpenCVSource(str(VIDEO)), outputs=[collector],
                          notifier=Notifier(address=path, watchdog_usec="1000000"))
        assert service.run() == 0
        messages = []
        while not any("STOPPING=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
    assert [f.index for f in collector.frames] == [1]
    assert any("READY=1" in m for m in messages) and any("WATCHDOG=1" in m for m in messages)


def test_stale_masks_protect_the_whole_frame(net):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.processor import Processor
    from edge_bodypix.daemon.metrics import Metrics
    from edge_bodypix.daemon.sources import Frame

    config = load_config(None, {"model": {"infer_every": 5, "max_mask_age_s": 0.2}, "http": {"listen": ""}})
    processor = Processor(FrameRunner(net, threaded=False), config, Metrics({}))
    image = cv2.cvtColor(cv2.imread(str(SHARED / "images" / "pexels-karolina-grabowska-4378882.jpg")), cv2.COLOR_BGR2RGB)
    first = processor.process(Frame(image, 100.0, 5))  # inference
    assert not first.fully_protected
    reused = processor.process(Frame(image, 100.1, 6))  # reuses a 0.1 s old mask
    assert not reused.fully_protected and np.array_equal(reused.image, first.image)
    stale = processor.process(Frame(image, 100.5, 7))  # the mask is 0.5 s old now
    assert stale.fully_protected and not stale.image.any()


def test_recordings_rotate_under_a_size_cap_and_events_are_written(tmp_path, net):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.systemd import Notifier

    config = load_config(None, {
        "source": {"uri": str(VIDEO), "fps": 10.0}, "http": {"listen": ""},
        "record": {"enabled": True, "segment_seconds": 0.3, "max_total_mb": 0.25, "codec": "MJPG"},
        "events": {"path": "events.jsonl", "interval_s": 0.2},
        "service": {"state_directory": str(tmp_path), "max_frames": 60},
    })
    service = Service(config, net=net, notifier=Notifier(address=""))
    assert service.run() == 0
    segments = sorted((tmp_path / "recordings").glob("segment-*.avi"))
    assert len(segments) >= 1
    assert sum(p.stat().st_size for p in segments[:-1]) <= 0.25e6
    capture = cv2.VideoCapture(str(segments[-1]))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (432, 768, 3)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events and {"persons", "max_persons", "frames", "fps", "fully_protected"} <= set(events[0])


class CountingSource:
    """Frames numbered 1..n, produced as fast as asked (a stand-in for a camera's timing only)."""

    def __init__(self, count, delay=0.0):
        self.count, self.delay, self.index = count, delay, 0
        self.description = "counting"

    def open(self):
        self.index = 0

    def read(self):
        from edge_bodypix.daemon.sources import Frame

        if self.index >= self.count:
            return None
        time.sleep(self.delay)
        self.index += 1
        return Frame(np.full((4, 4, 3), self.index % 256, np.uint8), time.monotonic(), self.index)

    def close(self):
        pass


def test_prefetching_keeps_every_file_frame_and_only_fresh_live_frames():
    from edge_bodypix.daemon.sources import PrefetchingSource

    files = PrefetchingSource(CountingSource(50), depth=2, drop_old=False)
    files.open()
    indices = []
    while (frame := files.read()) is not None:
        indices.append(frame.index)
        time.sleep(0.001)
    files.close()
    assert indices == list(range(1, 51))
    live = PrefetchingSource(CountingSource(200), depth=2, drop_old=True)
    live.open()
    time.sleep(0.3)  # the consumer stalls; the reader keeps going and drops stale frames
    first = live.read().index
    live.close()
    assert first > 150 and live.dropped >= first - 3


def test_daemon_source_factory_reads_ahead():
    from edge_bodypix.daemon.config import SourceConfig
    from edge_bodypix.daemon.sources import PrefetchingSource, make_source

    assert isinstance(make_source(SourceConfig(uri=str(VIDEO))), PrefetchingSource)
    assert make_source(SourceConfig(uri=str(VIDEO))).drop_old is False
    assert make_source(SourceConfig(uri="/dev/video0")).drop_old is True
    assert make_source(SourceConfig(uri="rtsp://127.0.0.1/stream")).drop_old is True


def test_an_ipv6_loopback_listen_address_serves(tmp_path):
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([SCRIPT, "serve", "--source", str(VIDEO), "--loop", "--http", f"[::1]:{port}",
                                "--state-dir", str(tmp_path / "state")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, body = get(f"http://[::1]:{port}/healthz", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
                time.sleep(0.3)
        assert status == 200 and json.loads(body)["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_port_in_use_is_a_named_error_not_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([SCRIPT, "serve", "--source", str(VIDEO), "--http", f"127.0.0.1:{port}",
                                 "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"http.listen = '127.0.0.1:{port}': cannot listen there (Address already in use)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_flood_of_idle_connections_is_bounded_and_cannot_lock_out_healthz(daemon):
    from edge_bodypix.daemon.outputs.http import IDLE_TIMEOUT_S, MAX_CLIENTS

    assert daemon.wait_for("READY=1"), daemon.messages
    threads_before = len(os.listdir(f"/proc/{daemon.process.pid}/task"))
    idle = []
    try:
        for _ in range(80):  # under TasksMax=64 this used to fail every request, /healthz included
            connection = socket.create_connection(("127.0.0.1", daemon.port))
            idle.append(connection)
        time.sleep(1)
        threads_during = len(os.listdir(f"/proc/{daemon.process.pid}/task"))
        assert threads_during <= threads_before + MAX_CLIENTS + 2
        with pytest.raises(urllib.error.HTTPError) as busy:  # answered at once, not hung
            get(daemon.url("/healthz"), timeout=3)
        assert busy.value.code == 503
        time.sleep(IDLE_TIMEOUT_S + 1)  # idle clients are dropped
        status, _, body = get(daemon.url("/healthz"), timeout=5)
        assert status == 200 and json.loads(body)["status"] == "ok"
    finally:
        for connection in idle:
            connection.close()


@pytest.mark.parametrize("entering", [True, False])
def test_a_head_entering_at_the_bottom_edge_is_protected_in_the_frames_before_it_is_segmented(net, entering):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.metrics import Metrics
    from edge_bodypix.daemon.processor import Processor
    from edge_bodypix.daemon.sources import Frame

    capture = cv2.VideoCapture(str(VIDEO))
    frames = [cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB) for _ in range(62)]
    capture.release()
    config = load_config(None, {"http": {"listen": ""}, "model": {"pipeline": False},
                                "privacy": {"effect": "blur-persons", "protect_entering": entering}})
    processor = Processor(FrameRunner(net, threaded=False), config, Metrics({}))
    outputs = [processor.process(Frame(image, i * 0.1, i + 1)) for i, image in enumerate(frames[40:], start=40)]
    empty_room = frames[49]
    for number in (61, 62):  # the top of a head at the bottom edge; the network finds no person yet
        image, out = frames[number - 1], outputs[number - 41].image
        head = np.abs(image.astype(int) - empty_room.astype(int)).max(axis=2) > 40
        head = cv2.morphologyEx(head.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(bool)
        assert head.sum() > 2000 and head[-5:].any()
        unprotected = head & (out == image).all(axis=2)
        if entering:
            assert unprotected.sum() == 0
        else:
            assert unprotected.mean() > 0.5 * head.mean()  # how it was: the head went out sharp
