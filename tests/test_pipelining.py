"""The frame runner: inference on one worker thread, post-processing on the caller's, each frame its own timings."""

import threading

import numpy as np
import pytest

from edge_bodypix import BodyPix, ModelInfo
from edge_bodypix.options import SegmentationOptions
from edge_bodypix.pipelining import FrameRunner
from fake_backend import STRIDE, RecordingBackend

pytestmark = pytest.mark.pure
FRAMES = [np.full((240, 320, 3), value, np.uint8) for value in (0, 80, 160)]


def stand_in_net(fail_on=()):
    backend = RecordingBackend(fail_on=fail_on)
    info = ModelInfo("stand-in", "stand-in.person", "MobileNetV1", 0.75, STRIDE, "float32", "mobilenet", "stand-in")
    return BodyPix(backend, info)


@pytest.mark.parametrize("threaded", [False, True])
def test_the_runner_gives_exactly_what_the_synchronous_methods_give(threaded):
    net = stand_in_net()
    options = SegmentationOptions(segmentation_threshold=0.6, flip_horizontal=True)
    with FrameRunner(net, threaded=threaded) as runner:
        pending = [runner.submit(frame, "medium", net.person_roles(parts=True)) for frame in FRAMES]
        results = [runner.finish(p, parts=True, options=options).segmentation for p in pending]
    for frame, result in zip(FRAMES, results):
        expected = net.segment_person_parts(frame, flip_horizontal=True, segmentation_threshold=0.6)
        assert np.array_equal(result.data, expected.data) and list(result.all_poses) == list(expected.all_poses)
        assert result.face_discs == expected.face_discs


def test_inference_runs_on_the_worker_thread_and_post_processing_on_the_callers():
    net = stand_in_net()
    with FrameRunner(net) as runner:
        first = runner.submit(FRAMES[0])
        second = runner.submit(FRAMES[1])  # queued behind the first: the network is never used by two threads
        runner.finish(first)
        runner.finish(second)
    assert net.backend.threads and set(net.backend.threads) != {threading.current_thread().name}
    assert all(name.startswith("inference") for name in net.backend.threads)


def test_each_frame_carries_its_own_timings_and_the_runner_leaves_last_timings_alone():
    net = stand_in_net()
    before = net.last_timings
    with FrameRunner(net) as runner:
        timings = [runner.finish(runner.submit(frame)).timings for frame in FRAMES]
    assert net.last_timings is before  # only the synchronous methods write it
    for t in timings:
        assert t.preprocess_ms > 0 and t.inference_ms > 0 and t.postprocess_ms > 0
        assert t.total_ms == pytest.approx(t.preprocess_ms + t.inference_ms + t.postprocess_ms)
    assert len({t.inference_ms for t in timings}) == len(timings)  # measured per frame, not shared


@pytest.mark.parametrize("threaded", [False, True])
def test_a_failed_inference_is_raised_by_finish_and_the_next_frame_runs(threaded):
    net = stand_in_net(fail_on={2})
    with FrameRunner(net, threaded=threaded) as runner:
        pending = [runner.submit(frame) for frame in FRAMES]  # submit never raises: the failure is the frame's
        assert runner.finish(pending[0]).segmentation.data.any()
        with pytest.raises(RuntimeError, match="injected failure on run 2"):
            runner.finish(pending[1])
        assert runner.finish(pending[2]).segmentation.data.any()


def test_call_runs_other_network_work_on_the_same_thread():
    net = stand_in_net()
    with FrameRunner(net) as runner:
        runner.finish(runner.submit(FRAMES[0]))
        name = runner.call(lambda: threading.current_thread().name).result()
    assert name == net.backend.threads[0]
