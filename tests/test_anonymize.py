"""`edge-bodypix anonymize`: recorded footage protected on one box, on a real Ray cluster, after a killed
worker and after an interrupted driver, always byte-identical and never with an unprotected frame."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import IMAGES, SHARED
from listening import descendants, listening, processes

av = pytest.importorskip("av")
pytestmark = pytest.mark.slow

SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")
WALKING = SHARED / "videos" / "one-by-one-person-detection.mp4"
STREET = SHARED / "videos" / "mmpose_demo_street_pedestrians.mp4"
PHOTO = IMAGES / "pexels-fauxels-3184419.jpg"


def anonymize(*args, timeout=600, env=None, **kwargs):
    return subprocess.run([SCRIPT, "anonymize", "--no-progress", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env or os.environ, **kwargs)


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def video_facts(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size)
        return {"codec": stream.codec_context.name, "time_base": stream.time_base,
                "size": (stream.codec_context.width, stream.codec_context.height), "pts": pts,
                "format": container.format.name, "rate": round(float(stream.average_rate))}  # the pts say the exact timing


def audio_packets(path):
    with av.open(str(path)) as container:
        return [(p.pts, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]


def frames(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory):
    """Frames 60-119 of the walking video (a person in view), stream-copied, with a 440 Hz AAC tone beside them."""
    path = tmp_path_factory.mktemp("clip") / "walk with tone.mp4"
    with av.open(str(WALKING)) as source, av.open(str(path), "w") as target:
        video_in = source.streams.video[0]
        video = target.add_stream_from_template(video_in)
        tone = target.add_stream("aac", rate=48000, layout="mono")
        packets = [p for p in source.demux(video_in) if p.size]
        first = sorted(p.pts for p in packets)[60]
        end = sorted(p.pts for p in packets)[120]
        for packet in packets:
            if first <= packet.pts < end:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.time_base = packet.pts - first, packet.dts - first, video_in.time_base
                copy.is_keyframe, copy.stream = packet.is_keyframe, video
                target.mux(copy)
        seconds = float((end - first) * video_in.time_base)
        samples = np.sin(2 * np.pi * 440 * np.arange(int(48000 * seconds)) / 48000).astype(np.float32)
        for start in range(0, samples.size, 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
            for packet in tone.encode(frame):
                target.mux(packet)
        for packet in tone.encode(None):
            target.mux(packet)
    return path


@pytest.fixture(scope="module")
def one_box(tmp_path_factory, clip_with_audio):
    out = tmp_path_factory.mktemp("one-box")
    result = anonymize(clip_with_audio, STREET, PHOTO, "--output-dir", out, "--workers", 2, "--chunk-seconds", 2)
    assert result.returncode == 0, result.stderr
    return out, result


def test_outputs_keep_container_codec_size_rate_frame_count_and_timestamps(one_box, clip_with_audio):
    out, _ = one_box
    for source in (clip_with_audio, STREET):
        assert video_facts(out / source.name) == video_facts(source)
    assert (out / PHOTO.name).stat().st_size > 0


def test_the_audio_stream_is_copied_unchanged(one_box, clip_with_audio):
    out, _ = one_box
    assert audio_packets(out / clip_with_audio.name) == audio_packets(clip_with_audio)


def faces_blurred(before, after, every=5) -> int:
    """Check that each face the network finds in an input frame lost its detail in the output; how many it checked."""
    import cv2

    import edge_bodypix
    from edge_bodypix.privacy import protected_region

    net = edge_bodypix.load()
    checked = 0
    for original, protected in zip(before[::every], after[::every]):
        region = protected_region(net.segment_person_parts(original), "faces", 0)
        if region.sum() < 400:
            continue
        detail = [cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F)[region].var()
                  for image in (original, protected)]
        assert detail[1] < 0.35 * detail[0], f"face detail {detail[1]:.1f} of {detail[0]:.1f} left"
        checked += 1
    return checked


def test_every_face_the_network_finds_in_the_input_is_blurred_in_the_output(one_box, clip_with_audio):
    checked = faces_blurred(frames(clip_with_audio), frames(one_box[0] / clip_with_audio.name))
    assert checked >= 6  # the person is in view on most of the clip


#: (file name, encoder, options): every codec family anonymize re-encodes, B-frames where the family has them
FAMILIES = [("hevc with b-frames.mkv", "libx265", {"x265-params": "bframes=2:log-level=error"}),
            ("mpeg4 with b-frames.mp4", "mpeg4", {"bf": "2", "qscale": "3"}),
            ("mjpeg.avi", "mjpeg", {"qscale": "3"}),
            ("vp8.webm", "libvpx", {"crf": "10", "b": "2M"}),
            ("vp9.webm", "libvpx-vp9", {"crf": "30", "b": "0"}),
            ("variable frame rate.mp4", "libx264", {"bf": "0"})]


@pytest.fixture(scope="module")
def family_clips(tmp_path_factory):
    """30 frames of the walking person in every supported codec family, and an H.264 clip whose frames are
    1, 2 or 3 ticks of 1/30 s apart (variable frame rate)."""
    folder = tmp_path_factory.mktemp("families")
    images = frames(WALKING)[60:90]
    for name, encoder, options in FAMILIES:
        variable = name.startswith("variable")
        with av.open(str(folder / name), "w") as target:
            stream = target.add_stream(encoder, rate=30 if variable else 10)
            stream.width, stream.height, stream.options = images[0].shape[1], images[0].shape[0], options
            stream.pix_fmt = "yuvj420p" if encoder == "mjpeg" else "yuv420p"
            stream.codec_context.time_base = Fraction(1, 30) if variable else Fraction(1, 10)
            tick = 0
            for i, image in enumerate(images):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = tick, stream.codec_context.time_base
                tick += 1 + i % 3 if variable else 1
                for packet in stream.encode(frame):
                    target.mux(packet)
            for packet in stream.encode(None):
                target.mux(packet)
    return folder


def test_every_codec_family_and_a_variable_frame_rate_keep_their_form_and_are_protected(family_clips, tmp_path):
    result = anonymize(family_clips, "--output-dir", tmp_path, "--workers", 2, "--chunk-seconds", 1)
    assert result.returncode == 0, result.stderr
    for name, _, _ in FAMILIES:
        source, output = family_clips / name, tmp_path / name
        assert video_facts(output) == video_facts(source), name
        if name.startswith("variable"):
            steps = np.diff(video_facts(output)["pts"])
            assert len(set(steps)) == 3, steps  # the irregular timing, tick for tick
        assert faces_blurred(frames(source), frames(output), every=3) >= 4, name


def test_the_report_counts_frames_and_persons_and_the_summary_is_printed(one_box, clip_with_audio):
    out, result = one_box
    report = json.loads((out / "report.json").read_text())
    by_name = {Path(f["output"]).name: f for f in report["files"]}
    assert by_name[clip_with_audio.name]["frames"] == 60 and by_name[STREET.name]["frames"] == 5
    assert by_name[PHOTO.name]["persons_seen"] == 5 and report["fail_safe_frames"] == 0
    assert "walk with tone.mp4" in result.stdout and "report:" in result.stdout


def test_a_second_run_into_the_same_folder_is_refused_unless_resumed(one_box, clip_with_audio):
    out, _ = one_box
    refused = anonymize(clip_with_audio, "--output-dir", out)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = anonymize(clip_with_audio, STREET, PHOTO, "--output-dir", out, "--workers", 2, "--chunk-seconds", 2,
                        "--resume")
    assert resumed.returncode == 0 and resumed.stdout.count("(done earlier)") == 3
    other = anonymize(clip_with_audio, "--output-dir", out, "--resume", "--effect", "pixelate-faces")
    assert other.returncode == 2 and "other settings" in other.stderr


def test_an_output_never_overwrites_an_input(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(STREET.read_bytes())
    result = anonymize(video, "--output-dir", tmp_path)
    assert result.returncode == 2 and "would overwrite the input" in result.stderr
    assert video.read_bytes() == STREET.read_bytes()


def test_a_chunk_that_cannot_be_decoded_is_written_black_reported_and_exits_1(tmp_path):
    """Garbage in the middle packets of a real file: that chunk fails every attempt and goes out black."""
    broken = tmp_path / "broken.mp4"
    data = bytearray(WALKING.read_bytes())
    with av.open(str(WALKING)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size][:60]
    rng = np.random.default_rng(0)
    for pos, size in packets[20:40]:  # every frame of the second 2-second chunk
        data[pos:pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    broken.write_bytes(bytes(data[:packets[-1][0] + packets[-1][1]]))
    out = tmp_path / "out"
    result = anonymize(broken, "--output-dir", out, "--workers", 1, "--chunk-seconds", 2)
    assert result.returncode == 1, result.stderr
    assert "frames written fail-safe (black)" in result.stdout
    report = json.loads((out / "report.json").read_text())["files"][0]
    assert report["fail_safe_frames"] >= 20 and report["errors"]
    written = frames(out / "broken.mp4")
    assert len(written) == len(video_facts(broken)["pts"])
    assert all(frame.max() < 24 for frame in written[20:40])  # black, never the decoded garbage


# -- many workers, a real cluster, failures --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_processes():
    """Ray's processes on this machine (its servers, and workers by their process titles)."""
    return processes(lambda command: "ray::" in command or "/ray/" in command or "ray.util.client" in command)


def test_a_local_ray_listens_on_loopback_only_and_stops_with_the_job(tmp_path):
    """`--ray` alone: Ray on Linux would put its servers on the LAN address (ShadowRay-style exposure of an
    appliance); everything it starts listens on 127.0.0.1, the job's output is complete, and nothing is left."""
    pytest.importorskip("ray")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # the pool must set it itself
    job = subprocess.Popen([SCRIPT, "anonymize", "--no-progress", str(PHOTO), "--output-dir", str(tmp_path),
                            "--ray", "--workers", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
    seen, started = set(), set()
    deadline = time.monotonic() + 300
    while job.poll() is None and time.monotonic() < deadline:
        below = descendants(job.pid) - {job.pid}
        started |= below
        seen |= listening(below)
        time.sleep(0.2)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 0, err
    assert (tmp_path / PHOTO.name).is_file()
    assert seen, "saw no Ray server listening while the job ran"
    assert all(address.is_loopback for address in seen), f"listening beyond loopback: {sorted(map(str, seen))}"
    for _ in range(50):  # Ray's processes end with the job's ray.shutdown()
        left = started & set(ray_processes())
        if not left:
            break
        time.sleep(0.2)
    assert not left, f"Ray processes left running: {left}"


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A real Ray head on loopback with two worker CPUs and its own auth token, stopped afterwards.

    Yields its address and the environment a client needs (the token: Ray 2.5x
    turns token authentication on, and a token left in ~/.ray by another run
    must not decide whether this test connects). On Linux Ray replaces
    `--node-ip-address 127.0.0.1` with the LAN address unless its single-node
    switch is set, for the head and for the client that connects to it."""
    pytest.importorskip("ray")
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    port = free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=os.urandom(16).hex(),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    started = subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                              "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                             capture_output=True, text=True, env=env, timeout=180)
    assert started.returncode == 0, started.stderr
    servers = listening(ray_processes())
    assert servers and all(address.is_loopback for address in servers), sorted(map(str, servers))
    yield f"127.0.0.1:{port}", env
    subprocess.run([ray, "stop", "--force"], capture_output=True, env=env, timeout=120)


def test_a_real_ray_cluster_writes_the_same_output_as_one_box(ray_cluster, one_box, clip_with_audio, tmp_path):
    """Byte for byte, whatever the frame height: the street video's 540-row frames too (libx264 reads past
    their luma plane, which the encoder now takes from one contiguous buffer; before, bytes varied run to run)."""
    address, env = ray_cluster
    result = anonymize(clip_with_audio, STREET, PHOTO, "--output-dir", tmp_path, "--workers", 2, "--chunk-seconds", 2,
                       "--ray", address, env=env)
    assert result.returncode == 0, result.stderr
    for name in (clip_with_audio.name, STREET.name, PHOTO.name):
        assert sha256(tmp_path / name) == sha256(one_box[0] / name), f"{name} differs; {result.stderr}"
    lines = (tmp_path / "anonymize-manifest.jsonl").read_text().splitlines()
    workers = {json.loads(line).get("worker") for line in lines} - {None, ""}
    assert len(workers) >= 2, f"one actor took every chunk: {workers}"  # (a restarted actor adds a name)


@pytest.fixture(scope="module")
def walking_reference(tmp_path_factory):
    """The whole walking video, one box, uninterrupted: what every disturbed run must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    result = anonymize(WALKING, "--output-dir", out, "--workers", 2, "--chunk-seconds", 2)
    assert result.returncode == 0, result.stderr
    return out / WALKING.name


def _chunks_done(out: Path) -> int:
    manifest = out / "anonymize-manifest.jsonl"
    return manifest.read_text().count('"event": "chunk"') if manifest.exists() else 0


def _wait_for_chunks(out: Path, count: int, process, timeout=180) -> None:
    deadline = time.monotonic() + timeout
    while _chunks_done(out) < count:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no chunks finished"
        time.sleep(0.2)


def _worker_pids(parent: int):
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and "spawn_main" in command:
            children.append(int(entry.name))
    return children


def test_killing_a_worker_mid_job_still_gives_the_identical_output(walking_reference, tmp_path):
    process = subprocess.Popen([SCRIPT, "anonymize", "--no-progress", str(WALKING), "--output-dir", str(tmp_path),
                                "--workers", "2", "--chunk-seconds", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=os.environ)
    _wait_for_chunks(tmp_path, 4, process)
    workers = _worker_pids(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert "worker process died" in stderr  # the lost chunks were retried
    assert sha256(tmp_path / WALKING.name) == sha256(walking_reference)


def test_the_whole_walking_video_keeps_its_frames_size_rate_and_timestamps(walking_reference):
    assert video_facts(walking_reference) == video_facts(WALKING)


def test_an_interrupted_job_resumes_to_the_identical_output(walking_reference, tmp_path):
    # Ctrl-C as a terminal delivers it: a runner started in the background by a script (`cmd &` without
    # job control) ignores SIGINT, and its children would inherit that and never see the interrupt
    process = subprocess.Popen([SCRIPT, "anonymize", "--no-progress", str(WALKING), "--output-dir", str(tmp_path),
                                "--workers", "2", "--chunk-seconds", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=os.environ,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for_chunks(tmp_path, 10, process)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "--resume" in stderr
    assert not (tmp_path / WALKING.name).exists()  # never a partial output under the final name
    done = _chunks_done(tmp_path)
    assert 10 <= done < 70
    resumed = anonymize(WALKING, "--output-dir", tmp_path, "--workers", 2, "--chunk-seconds", 2, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert _chunks_done(tmp_path) == 70  # only the missing chunks were redone
    assert sha256(tmp_path / WALKING.name) == sha256(walking_reference)


def test_workers_that_cannot_load_the_model_stop_the_job_with_the_reason(tmp_path):
    result = anonymize(STREET, "--output-dir", tmp_path, "--model", "no-such-model", "--workers", 2, timeout=120)
    assert result.returncode == 1
    assert "a worker could not start: ModelNotFoundError: no model called 'no-such-model'" in result.stderr
    assert not (tmp_path / STREET.name).exists() and "Traceback" not in result.stderr
