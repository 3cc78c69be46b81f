"""int8 of a quant1 checkpoint computes with the checkpoint's own weights (converters/checkpoint_grid.py)."""

import numpy as np
import pytest

import edge_bodypix.converters  # noqa: F401 - first: sets TensorFlow's CPU kernel options before it loads
from conftest import IMAGES, MODELS, SHARED
from edge_bodypix.converters.checkpoint_grid import grid_layers, place_on_grid
from edge_bodypix.converters.tfjs_reader import read_tfjs
from edge_bodypix.converters.weight_rounding import exact_rows, filter_rows

MOBILENET = MODELS / "tfjs" / "bodypix" / "mobilenet"
QUANT1 = MOBILENET / "quant1" / "050" / "model-stride16.json"
CALIBRATION = [str(SHARED / "eval" / "coco-keypoints-dev" / "images")]
SIZE = (161, 161)

pytestmark = pytest.mark.tensorflow
pytest.importorskip("tensorflow")


def test_uint8_checkpoint_weights_are_read_with_the_grid_they_lie_on():
    quant1 = read_tfjs(str(QUANT1))
    filters = {name: w for name, w in quant1.weights.items() if w.ndim == 4}
    assert filters and set(filters) <= set(quant1.grid_steps)
    for name, weights in filters.items():
        levels = weights.astype(np.float64) / quant1.grid_steps[name]
        assert np.abs(levels - np.round(levels)).max() < 1e-3, name
    assert not read_tfjs(str(MOBILENET / "quant2" / "050" / "model-stride16.json")).grid_steps  # 16-bit: no use
    assert not read_tfjs(str(MOBILENET / "float" / "050" / "model-stride16.json")).grid_steps


def test_a_row_is_exact_when_its_weights_are_whole_steps_within_int8():
    step = 0.037
    rows = np.array([[1, -127, 5, 0], [128, 0, 0, 1], [1.5, 2, 3, 4], [0, 0, 0, 0]]) * step
    assert exact_rows(rows.astype(np.float32), step).tolist() == [True, False, False, True]


def _int8_filters(model_path):
    """Dequantised per-channel int8 filters of a TFLite model, by shape."""
    from edge_bodypix.backends.tflite.interpreter_library import interpreter_library

    interpreter = interpreter_library().interpreter_class(model_path=str(model_path))
    found = []
    for detail in interpreter.get_tensor_details():
        scales = detail["quantization_parameters"]["scales"]
        if detail["dtype"] != np.int8 or len(detail["shape"]) != 4 or len(scales) <= 1:
            continue
        axis = detail["quantization_parameters"]["quantized_dimension"]
        shape = [1] * 4
        shape[axis] = len(scales)
        found.append(interpreter.get_tensor(detail["index"]).astype(np.float64) * scales.reshape(shape))
    return found


@pytest.fixture(scope="module")
def quant1_conversion(tmp_path_factory):
    from edge_bodypix.converters.pipeline import convert_checkpoint

    return convert_checkpoint(str(QUANT1), "int8", str(tmp_path_factory.mktemp("grid")), CALIBRATION, [str(IMAGES)],
                              input_size=SIZE, samples=10)


def test_int8_channels_of_a_quant1_checkpoint_hold_its_weights_exactly(quant1_conversion):
    """Every channel of every int8 convolution whose checkpoint weights fit int8 on their own step is stored as
    those weights, not TFLite's rounding of them (and the model runs: TFLite checks the bias scales)."""
    from edge_bodypix.converters.tflite_export import DEFAULT_FLOAT_LAYERS

    placement = quant1_conversion.report["checkpoint_grid"]
    layers = [layer for layer in grid_layers(read_tfjs(str(QUANT1)))
              if not any(name in layer.name for name in DEFAULT_FLOAT_LAYERS)
              and exact_rows(filter_rows(layer.filter, layer.depthwise), layer.step).any()]
    assert placement["layers"] == len(layers) and placement["layers_not_found"] == []
    assert placement["of_channels"] > 3000 and placement["channels"] >= 0.99 * placement["of_channels"]
    stored = _int8_filters(quant1_conversion.model_path)
    for layer in layers:
        expected = np.transpose(layer.filter, (3, 0, 1, 2)).astype(np.float64)  # HWIO / HWC1 -> TFLite's layout
        exact = exact_rows(filter_rows(layer.filter, layer.depthwise), layer.step)
        channels = (slice(None), slice(None), slice(None), exact) if layer.depthwise else exact
        assert any(values.shape == expected.shape
                   and np.abs(values[channels] - expected[channels]).max() <= 1e-4 * layer.step for values in stored), \
            layer.name
    assert quant1_conversion.report["person_iou_vs_float"]["mean"] >= 0.9


def test_on_its_own_grid_a_quant1_int8_model_stays_closer_to_float_than_with_tflite_s_rounding(tmp_path):
    """The same conversion (round-to-nearest, default float layers), before and after `place_on_grid`: the
    segment logits near the threshold move less from the float graph's."""
    import edge_bodypix
    from edge_bodypix.converters.calibration import collect_images, representative_inputs
    from edge_bodypix.converters.fidelity import segment_error_near_threshold
    from edge_bodypix.converters.pipeline import _describe_source, _reference_network, load_source
    from edge_bodypix.converters.tflite_export import DEFAULT_FLOAT_LAYERS, convert

    path, function, kind, _ = load_source(str(QUANT1))
    reference = _reference_network(path, function, kind, *_describe_source(path, function))
    frames = collect_images(CALIBRATION)
    plain = convert(function, "int8", lambda: representative_inputs(frames, 16, "mobilenet", 10, SIZE),
                    input_size=SIZE, float_layers=DEFAULT_FLOAT_LAYERS)
    layers = [layer for layer in grid_layers(read_tfjs(str(QUANT1)))
              if not any(name in layer.name for name in DEFAULT_FLOAT_LAYERS)]
    placed, placement = place_on_grid(plain, layers)
    assert placement.channels > 0 and not placement.unmatched
    images = collect_images([str(SHARED / "eval" / "coco-person-dev" / "images")], limit=10)
    errors = {}
    for kind_, model in (("plain", plain), ("placed", placed)):
        (tmp_path / f"{kind_}.tflite").write_bytes(model)
        errors[kind_] = segment_error_near_threshold(
            reference, edge_bodypix.load(model=str(tmp_path / f"{kind_}.tflite"), backend="tflite"), images)
    assert errors["placed"] < 0.9 * errors["plain"], errors
    again, _ = place_on_grid(placed, layers)  # idempotent: placed channels are found and kept as they are
    assert again == placed
