"""The person logits' int8 output range trimmed to +-8 (converters/output_range.py)."""

import numpy as np
import pytest

import edge_bodypix.converters  # noqa: F401 - first: sets TensorFlow's CPU kernel options before it loads
from conftest import IMAGES, MODELS

pytestmark = pytest.mark.tensorflow
pytest.importorskip("tensorflow")

SOURCE = MODELS / "tfjs" / "bodypix" / "mobilenet" / "float" / "050" / "model-stride16.json"
SIZE = (161, 161)


@pytest.fixture(scope="module")
def conversions():
    """int8 with float layers (float32 outputs), full integer (uint8 outputs) and float32 of one checkpoint."""
    from edge_bodypix.converters.calibration import collect_images, representative_inputs
    from edge_bodypix.converters.pipeline import load_source
    from edge_bodypix.converters.tflite_export import DEFAULT_FLOAT_LAYERS, convert

    _, function, _, _ = load_source(str(SOURCE))
    frames = collect_images([str(IMAGES)])

    def representative():
        return representative_inputs(frames, 16, "mobilenet", 8, SIZE)

    return {"float outputs": convert(function, "int8", representative, input_size=SIZE,
                                     float_layers=DEFAULT_FLOAT_LAYERS),
            "uint8 outputs": convert(function, "int8", representative, input_size=SIZE),
            "float32": convert(function, "float32", input_size=SIZE)}


def _segments(model: bytes, tmp_path, name: str):
    import edge_bodypix
    from edge_bodypix.imageio import read_rgb

    path = tmp_path / f"{name}.tflite"
    path.write_bytes(model)
    network = edge_bodypix.load(model=str(path), backend="tflite")
    return np.concatenate([network.infer(read_rgb(image), "medium", ("segments",)).outputs["segments"].ravel()
                           for image in sorted(IMAGES.glob("*.jpg"))[:2]])


@pytest.mark.parametrize("kind", ["float outputs", "uint8 outputs"])
def test_segment_logits_keep_finer_steps_within_8_and_saturate_beyond(conversions, kind, tmp_path):
    from edge_bodypix.converters.output_range import LOGIT_LIMIT, trim_output_range

    model = conversions[kind]
    trimmed, change = trim_output_range(model)
    assert change["role"] == "segments" and change["calibrated"][0] < -LOGIT_LIMIT
    old_step, new_step = change["step"]
    assert new_step < 0.85 * old_step
    low, high = change["kept"]  # the aim, [-8, min(calibrated high, 8)], to half a step (0 sits on a level)
    assert abs(low + LOGIT_LIMIT) <= new_step / 2 + 1e-3 and high <= LOGIT_LIMIT + new_step / 2 + 1e-3
    before, after = _segments(model, tmp_path, "before"), _segments(trimmed, tmp_path, "after")
    assert after.min() >= low - 1e-3 and after.max() <= high + 1e-3
    inside = np.abs(before) < LOGIT_LIMIT - old_step
    assert inside.mean() > 0.05
    assert np.abs(after[inside] - before[inside]).max() <= (old_step + new_step) / 2 + 1e-4
    assert np.all(after[before <= -LOGIT_LIMIT - old_step] <= -LOGIT_LIMIT + new_step)
    again, nothing = trim_output_range(trimmed)  # inside the limits already: left alone
    assert again == trimmed and nothing == {}


def test_a_float_model_is_left_as_it_is(conversions):
    from edge_bodypix.converters.output_range import trim_output_range

    model, change = trim_output_range(conversions["float32"])
    assert model == conversions["float32"] and change == {}
