"""The network self-test: healthy models pass it, damaged ones and failing hardware do not, and the daemon fails closed."""

import json

from dataclasses import replace

import numpy as np
import pytest

import edge_bodypix
from edge_bodypix.daemon.outputs import MemoryOutput
from edge_bodypix.parts import KEYPOINT_NAMES
from edge_bodypix.privacy import selftest
from edge_bodypix.privacy.selftest import FACE_BOX, KEYPOINTS, evaluate, reference_mask, run_selftest
from edge_bodypix.results import Keypoint, PersonSegmentation, Pose

from conftest import DEFAULT_MODEL, MODELS, PER_TENSOR_LANDSCAPE_MODEL, PER_TENSOR_MODEL, SHARED, corrupted_copy

VIDEO = SHARED / "videos" / "one-by-one-person-detection.mp4"
HEALTHY = [DEFAULT_MODEL, PER_TENSOR_MODEL, PER_TENSOR_LANDSCAPE_MODEL,
           MODELS / "onnx" / "MobileNetV1-x050-stride16.onnx", MODELS / "onnx" / "MobileNetV1-x050-stride8.onnx"]


class GarbageNet:
    """The real network on an accelerator that returns noise of the right shapes (a failing TPU)."""

    def __init__(self, net, bad_calls=None, seed=0):
        self.net, self.bad_calls, self.calls = net, bad_calls, 0
        self.rng = np.random.default_rng(seed)

    def infer(self, *args, **kwargs):
        self.calls += 1
        inference = self.net.infer(*args, **kwargs)
        if self.bad_calls is None or self.calls <= self.bad_calls:
            noise = {role: self.rng.normal(0, 4, value.shape).astype(np.float32)
                     for role, value in inference.outputs.items()}
            inference = replace(inference, outputs=noise)
        return inference

    def __getattr__(self, name):
        return getattr(self.net, name)


def pose_at(positions, score=0.9):
    keypoints = tuple(Keypoint(name, positions.get(name, (0.0, 0.0)), score if name in positions else 0.0)
                      for name in KEYPOINT_NAMES)
    return Pose(keypoints, score)


def ideal_result(shift=(0.0, 0.0)):
    """The reference mask and the consensus face keypoints, optionally moved by `shift` pixels."""
    mask = reference_mask()
    positions = {name: (x + shift[0], y + shift[1]) for name, (x, y) in KEYPOINTS.items()}
    return PersonSegmentation(mask.shape[1], mask.shape[0], mask.astype(np.uint8), [pose_at(positions)])


# -- the check itself, on arrays -------------------------------------------------------------------
def test_the_reference_mask_and_keypoints_pass_for_persons_and_background():
    for target in ("persons", "background"):
        result = evaluate(ideal_result(), target)
        assert result.passed, result.problems
        assert result.person_iou == 1.0 and result.keypoint_error_px == 0.0


def test_faces_need_more_than_a_disc_around_three_keypoints_the_chin_must_be_covered_too():
    # without face parts, the nose and eyes alone give a disc that stops above the mouth
    result = evaluate(ideal_result(), "faces")
    assert not result.passed and "of the face protected" in result.problems[0]


def test_an_empty_mask_fails_naming_the_iou():
    mask = np.zeros_like(reference_mask(), dtype=np.uint8)
    result = evaluate(PersonSegmentation(mask.shape[1], mask.shape[0], mask, []), "persons")
    assert not result.passed
    assert any("person mask IoU 0.00" in p for p in result.problems) and "no pose found" in result.problems


def test_a_mask_of_everything_fails_too():
    mask = np.ones_like(reference_mask(), dtype=np.uint8)
    result = evaluate(PersonSegmentation(mask.shape[1], mask.shape[0], mask, ideal_result().all_poses), "persons")
    assert not result.passed and "person mask IoU" in result.problems[0]


def test_face_keypoints_far_from_the_face_fail():
    result = evaluate(ideal_result(shift=(60.0, 0.0)), "persons")
    assert not result.passed and all("px from where it is" in p for p in result.problems)


def test_a_result_for_another_image_size_is_a_failure_not_an_exception():
    mask = np.ones((10, 10), np.uint8)
    result = evaluate(PersonSegmentation(10, 10, mask, []))
    assert not result.passed and "not the photo's 512x512" in result.problems[0]


def test_the_face_box_lies_inside_the_reference_person():
    x0, y0, x1, y1 = FACE_BOX
    assert reference_mask()[y0:y1, x0:x1].mean() > 0.99


# -- real models -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def healthy_nets():
    return {path.name: edge_bodypix.load(model=str(path), backend="auto") for path in HEALTHY}


@pytest.mark.parametrize("target", ["faces", "persons", "background"])
def test_every_healthy_model_in_shared_passes_for_every_target(healthy_nets, target):
    for name, net in healthy_nets.items():
        result = run_selftest(net, target)
        assert result.passed, f"{name}: {result.summary()}"
        assert result.person_iou > 0.85 and result.keypoint_error_px < 12


def test_a_model_with_one_percent_of_its_weights_randomised_fails(tmp_path):
    damaged = edge_bodypix.load(model=str(corrupted_copy(tmp_path)), verify=False)  # past the checksum
    result = run_selftest(damaged, "faces")
    assert not result.passed
    assert "self-test FAILED" in result.summary()


def test_an_accelerator_returning_noise_fails(net):
    result = run_selftest(GarbageNet(net), "faces")
    assert not result.passed and any("IoU" in p for p in result.problems)


def test_an_interpreter_that_raises_is_a_failed_test_not_an_exception(net):
    class Broken:
        def __getattr__(self, name):
            return getattr(net, name)

        def infer(self, *args, **kwargs):
            raise RuntimeError("delegate lost the device")

    result = run_selftest(Broken(), "faces")
    assert not result.passed and "delegate lost the device" in result.problems[0]


def test_the_photo_ships_in_the_package():
    photo = selftest.selftest_photo()
    assert photo.shape == (512, 512, 3) and photo.dtype == np.uint8 and not photo.flags.writeable
    assert selftest.PHOTO.is_file() and selftest.PHOTO.stat().st_size < 100_000


# -- the daemon --------------------------------------------------------------------------------------
def run_daemon(net, frames, pipeline, **privacy):
    from edge_bodypix.daemon.config import load_config
    from edge_bodypix.daemon.service import Service
    from edge_bodypix.daemon.sources import OpenCVSource
    from edge_bodypix.daemon.systemd import Notifier

    config = load_config(None, {"source": {"uri": str(VIDEO), "realtime": False}, "http": {"listen": ""},
                                "service": {"max_frames": frames}, "model": {"pipeline": pipeline},
                                "privacy": {"hold_frames": 0, **privacy}})
    collector = MemoryOutput()
    service = Service(config, net=net, source=OpenCVSource(str(VIDEO)), outputs=[collector],
                      notifier=Notifier(address=""))
    assert service.run() == 0
    return service, collector.frames


@pytest.mark.parametrize("pipeline", [False, True])
def test_a_daemon_whose_network_fails_the_selftest_sends_only_black_frames(tmp_path, pipeline):
    damaged = edge_bodypix.load(model=str(corrupted_copy(tmp_path)), verify=False)
    service, frames = run_daemon(damaged, 8, pipeline)
    assert len(frames) == 8
    assert all(f.fully_protected and not f.image.any() for f in frames)
    assert service.metrics.gauges["selftest_ok"] == 0 and service.metrics.counter("selftest_failures") >= 1
    assert service.health()["selftest"] == "failed"
    assert "edge_bodypix_selftest_ok 0" in service.metrics.render()


@pytest.mark.parametrize("pipeline", [False, True])
def test_a_network_that_recovers_serves_again_after_its_next_selftest(net, pipeline):
    # the accelerator returns noise for its first inference (the start-up self-test), then recovers
    flaky = GarbageNet(net, bad_calls=1)
    service, frames = run_daemon(flaky, 40, pipeline, selftest_interval_s=0.05)
    assert frames[0].fully_protected and not frames[0].image.any()
    assert not frames[-1].fully_protected
    assert service.metrics.counter("selftest_failures") == 1 and service.metrics.counter("selftest_runs") >= 2
    assert service.metrics.gauges["selftest_ok"] == 1 and service.health()["selftest"] == "passed"


def test_a_healthy_daemon_selftests_at_start_and_protects_normally(net):
    service, frames = run_daemon(net, 5, False)
    assert service.metrics.counter("selftest_runs") == 1 and service.metrics.counter("selftest_failures") == 0
    assert not any(f.fully_protected for f in frames)


def test_a_failed_selftest_makes_healthz_unhealthy(tmp_path):
    from edge_bodypix.daemon.outputs.http import HttpOutput
    from edge_bodypix.daemon.metrics import Metrics
    from edge_bodypix.daemon.outputs.base import ProcessedFrame
    import time
    import urllib.error
    import urllib.request

    output = HttpOutput("127.0.0.1", 0, "", Metrics({}), lambda: {"frames": 3, "selftest": "failed"})
    output.start()
    try:
        output.write(ProcessedFrame(np.zeros((48, 64, 3), np.uint8), time.monotonic(), 1, -1, True, 80))
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{output.address[1]}/healthz", timeout=5)
        assert caught.value.code == 503
        assert json.loads(caught.value.read())["status"] == "selftest failed"
    finally:
        output.stop()
