"""`serve --rtsp`: H.264 over RTSP of the protected frames, pulled by a real client (FFmpeg, through PyAV),
from a real daemon process playing the shared walking video at its own frame rate."""

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from conftest import corrupted_copy
from daemon_process import SCRIPT, VIDEO, Daemon, free_port

av = pytest.importorskip("av", reason="PyAV (the dev extra) is the RTSP client here")
try:  # the server side: GStreamer's RTSP server through PyGObject
    from edge_bodypix.daemon.outputs.rtsp import import_gstreamer

    import_gstreamer()
    GSTREAMER_MISSING = None
except Exception as exc:  # noqa: BLE001 - the reason is the skip message
    GSTREAMER_MISSING = str(exc)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(GSTREAMER_MISSING is not None, reason=f"no GStreamer RTSP server: {GSTREAMER_MISSING}")]
SIZE = (432, 768)  # the shared video's, which the stream must keep
FILE_FPS = 10.0


class SourceFrames:
    """Every frame of the shared video, small and grey, to find which one a pulled frame shows."""

    def __init__(self):
        capture = cv2.VideoCapture(str(VIDEO))
        self.small = []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            self.small.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (96, 54), interpolation=cv2.INTER_AREA))
        capture.release()
        self.small = np.stack(self.small).astype(np.float32)

    def index_of(self, rgb):
        small = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (96, 54), interpolation=cv2.INTER_AREA)
        return int(np.argmin(((self.small - small.astype(np.float32)) ** 2).mean(axis=(1, 2))))

    @staticmethod
    def frame(index):
        capture = cv2.VideoCapture(str(VIDEO))
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
        capture.release()
        assert ok
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def pull(url, seconds, transport="tcp", **options):
    """Frames (RGB), their arrival times and time stamps (s) for `seconds` after the first one, and the
    stream's facts. The first frames arrive in a burst: the ones FFmpeg buffered while probing the stream."""
    container = av.open(url, options={"rtsp_transport": transport, **options}, timeout=(10, 10))
    try:
        stream = container.streams.video[0]
        facts = {"codec": stream.codec_context.name, "size": (stream.height, stream.width),
                 "rate": float(stream.average_rate or 0)}
        frames, arrivals, stamps = [], [], []
        for frame in container.decode(stream):
            arrivals.append(time.monotonic())
            frames.append(frame.to_ndarray(format="rgb24"))
            stamps.append(frame.time)
            if arrivals[-1] - arrivals[0] >= seconds:
                break
        facts["stamps"] = stamps
        return frames, arrivals, facts
    finally:
        container.close()


@pytest.fixture
def rtsp_daemon(tmp_path):
    port = free_port()
    daemon = Daemon(tmp_path, "--rtsp", f"127.0.0.1:{port}/protected", realtime=True)
    assert daemon.wait_for("READY=1"), daemon.messages
    daemon.rtsp_url = f"rtsp://127.0.0.1:{port}/protected"
    yield daemon
    daemon.kill()


def test_the_stream_is_h264_at_the_cameras_size_and_rate_and_its_faces_are_protected(rtsp_daemon, net):
    frames, arrivals, facts = pull(rtsp_daemon.rtsp_url, seconds=10)
    assert facts["codec"] == "h264" and facts["size"] == SIZE
    assert facts["rate"] == pytest.approx(FILE_FPS, rel=0.02)
    # frames for the whole 10 s at the file's own rate: one picture per time stamp, 0.1 s apart, and as
    # many arriving in the last 9 s (after FFmpeg's probing burst) as 9 s of the file holds
    assert arrivals[-1] - arrivals[0] >= 10
    steps = np.diff([t for t in facts["stamps"] if t is not None])
    assert (steps > 0).all(), "two pictures with one time stamp"
    assert np.median(steps) == pytest.approx(1 / FILE_FPS, rel=0.05)
    steady = sum(1 for t in arrivals if t >= arrivals[-1] - 9)
    assert 0.9 * 9 * FILE_FPS <= steady <= 1.1 * 9 * FILE_FPS + 2
    assert all(frame.shape == SIZE + (3,) for frame in frames)
    source = SourceFrames()
    checked = 0
    for frame in frames[::5]:
        index = source.index_of(frame)
        raw = source.frame(index)
        faces = np.isin(net.segment_person_parts(raw).data, (0, 1))
        if faces.sum() < 200:
            continue
        error = np.abs(frame.astype(int) - raw)
        face, rest = error[faces].mean(), error[~faces].mean()
        assert face > 3 * rest and face > 8, (index, face, rest)  # blurred, while the rest is the same picture
        checked += 1
    assert checked >= 3


def test_a_client_killed_mid_stream_can_reconnect_and_another_uses_udp(rtsp_daemon):
    client = [sys.executable, "-c",
              "import av, sys; c = av.open(sys.argv[1], options={'rtsp_transport': 'tcp'}, timeout=10)\n"
              "for i, f in enumerate(c.decode(video=0)):\n    print(i, flush=True)", rtsp_daemon.rtsp_url]
    process = subprocess.Popen(client, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(10):  # it is receiving frames...
            assert process.stdout.readline(), "the first client got no frames"
    finally:
        process.kill()  # ...when it dies without a TEARDOWN
        process.wait()
    frames, _, facts = pull(rtsp_daemon.rtsp_url, seconds=2, transport="udp")
    assert facts["size"] == SIZE and len(frames) >= 10
    assert rtsp_daemon.process.poll() is None


def test_a_daemon_whose_network_fails_its_selftest_streams_only_black(tmp_path):
    """Fail closed on this output too: a model damaged past its checksum fails the self-test, and the NVR
    records black frames, never the camera's picture."""
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\nname = "{corrupted_copy(tmp_path)}"\nverify = false\n')
    port = free_port()
    daemon = Daemon(tmp_path, "--config", str(config), "--rtsp", f"127.0.0.1:{port}/protected")
    try:
        assert daemon.wait_for("READY=1"), daemon.messages
        frames, _, facts = pull(f"rtsp://127.0.0.1:{port}/protected", seconds=3)
        assert facts["size"] == SIZE and len(frames) >= 10
        assert max(int(frame.max()) for frame in frames) <= 2  # black, after H.264 and YUV -> RGB
    finally:
        daemon.kill()
    assert "self-test FAILED" in daemon.process.stderr.read()


def test_credentials_are_required_when_set_and_beyond_loopback(tmp_path):
    beyond = subprocess.run([SCRIPT, "serve", "--check-config", "--rtsp", "0.0.0.0:8554/protected"],
                            capture_output=True, text=True)
    assert beyond.returncode == 2
    assert "rtsp.listen = '0.0.0.0:8554' reaches beyond this machine: set rtsp.username and rtsp.password_file" \
        in beyond.stderr and "Traceback" not in beyond.stderr
    password = tmp_path / "rtsp-password"
    password.write_text("s3cret-Pass\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[rtsp]\nusername = "nvr"\npassword_file = "{password}"\n')
    port = free_port()
    daemon = Daemon(tmp_path, "--config", str(config), "--rtsp", f"127.0.0.1:{port}/cam")
    try:
        assert daemon.wait_for("READY=1"), daemon.messages
        with pytest.raises(av.error.HTTPUnauthorizedError):
            pull(f"rtsp://127.0.0.1:{port}/cam", seconds=1)
        with pytest.raises(av.error.HTTPUnauthorizedError):
            pull(f"rtsp://nvr:wrong@127.0.0.1:{port}/cam", seconds=1)
        frames, _, facts = pull(f"rtsp://nvr:s3cret-Pass@127.0.0.1:{port}/cam", seconds=1)
        assert facts["codec"] == "h264" and len(frames) >= 2
    finally:
        daemon.kill()
