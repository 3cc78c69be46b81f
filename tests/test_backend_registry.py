"""A new backend is one class and one registration: a stand-in network runs the whole BodyPix pipeline."""

import numpy as np
import pytest

import edge_bodypix
from edge_bodypix.backends.base import DynamicShapeBackend
from edge_bodypix.backends.registry import BackendSpec, backend_names, register, unregister
from edge_bodypix.parts import KEYPOINT_NAMES, PART_CHANNELS
from edge_bodypix.privacy import protected_region

pytestmark = pytest.mark.pure
STRIDE = 16
CHANNELS = {"segments": 1, "part_heatmaps": 24, "heatmaps": 17, "short_offsets": 34, "long_offsets": 34,
            "displacement_fwd": 32, "displacement_bwd": 32}


class OnePersonBackend(DynamicShapeBackend):
    """A stand-in network that sees one person filling the middle of any input: the middle half of the
    output grid is person (torso), its top row face, and the nose keypoint sits on the top row's middle."""

    roles = tuple(CHANNELS)
    description = "stand-in (one person)"

    def __init__(self, path, options):
        super().__init__()
        self.path, self.options = path, options

    def run(self, input_tensor, roles=None):
        self._ran_on(input_tensor)
        height, width = input_tensor.shape[:2]
        gh, gw = (height - 1) // STRIDE + 1, (width - 1) // STRIDE + 1
        top, bottom, left, right = gh // 4, 3 * gh // 4, gw // 4, 3 * gw // 4
        outputs = {role: np.zeros((gh, gw, n), np.float32) for role, n in CHANNELS.items()}
        outputs["segments"][:] = -10.0
        outputs["segments"][top:bottom, left:right] = 10.0
        outputs["part_heatmaps"][..., PART_CHANNELS.index("torso_front")] = 1.0
        outputs["part_heatmaps"][top, left:right, PART_CHANNELS.index("left_face")] = 5.0
        outputs["heatmaps"][:] = -10.0
        outputs["heatmaps"][top, (left + right) // 2, KEYPOINT_NAMES.index("nose")] = 10.0
        return {role: outputs[role] for role in (roles or CHANNELS)}


@pytest.fixture
def stand_in(tmp_path):
    register(BackendSpec("one-person", (".person",), OnePersonBackend, describe=lambda: "stand-in 1.0"))  # the one line
    model = tmp_path / "stand-in.person"
    model.write_bytes(b"weights of a network that always sees one person")
    yield model
    unregister("one-person")


def test_a_registered_backend_is_chosen_for_its_files_and_named_everywhere(stand_in):
    from edge_bodypix.daemon.config import load_config

    assert "one-person" in backend_names()
    net = edge_bodypix.load(model=str(stand_in), backend="auto")
    assert net.info.backend == "stand-in (one person)" and net.output_stride == STRIDE
    assert load_config(None, {"model": {"backend": "one-person"}}).model.backend == "one-person"


def test_the_pipeline_runs_on_the_stand_in_masks_parts_poses_and_faces(stand_in):
    net = edge_bodypix.load(model=str(stand_in), backend="one-person")
    image = np.zeros((480, 640, 3), np.uint8)
    person = net.segment_person(image)
    assert person.data[240, 320] == 1 and person.data[10, 10] == 0
    assert 0.15 < person.data.mean() < 0.35  # the middle half of each axis: a quarter of the frame
    parts = net.segment_person_parts(image)
    assert parts.data[240, 320] == PART_CHANNELS.index("torso_front")
    assert (parts.data == PART_CHANNELS.index("left_face")).any()
    (pose,) = [p for p in person.all_poses if p.score > 0]
    nose = pose.keypoints[KEYPOINT_NAMES.index("nose")]
    assert nose.score > 0.99 and abs(nose.position[0] - 320) < 20 and nose.position[1] < 200
    faces = protected_region(parts, "faces", 0)
    assert faces[int(nose.position[1]), int(nose.position[0])] and not faces[400, 320]
    people = net.segment_multi_person(image, score_threshold=0.01)  # a pose of one keypoint scores 1/17
    assert len(people) == 1 and np.array_equal(people[0].data, person.data)


def test_the_device_report_describes_every_registered_backend(stand_in):
    from edge_bodypix.benchsuite.device import device_info

    backends = device_info([])["backends"]
    assert list(backends)[:2] == ["tflite", "onnxruntime"] and backends["one-person"] == "stand-in 1.0"


def test_a_backend_whose_library_is_missing_is_reported_unavailable_not_raised():
    def missing():
        raise edge_bodypix.BackendUnavailableError("pip install hailort")

    spec = BackendSpec("hailo", (".hef",), OnePersonBackend, describe=missing)
    assert spec.status() == (False, "unavailable (pip install hailort)") and not spec.available()


def test_an_unknown_backend_is_a_named_error():
    with pytest.raises(edge_bodypix.InvalidParameterError, match="backend 'hailo' is not one of tflite, onnxruntime"):
        edge_bodypix.load(backend="hailo")
