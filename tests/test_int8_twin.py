"""GPTQ on the int8 twin's inputs: TFLite's activation rounding, refits that carry over, every BodyPix graph."""

import copy

import numpy as np
import pytest

import edge_bodypix.converters  # noqa: F401 - first: sets TensorFlow's CPU kernel options before it loads
from conftest import MODELS
from edge_bodypix.converters.weight_rounding import INT8_LEVELS, int8_scales, reproducing_rows
from edge_bodypix.errors import ModelFormatError

pytestmark = pytest.mark.tensorflow
tf = pytest.importorskip("tensorflow")

FLOAT_050_16 = MODELS / "tfjs" / "bodypix" / "mobilenet" / "float" / "050" / "model-stride16.json"
RESNET50_TOPOLOGY = MODELS / "tfjs-topology" / "resnet50-model.json"


@pytest.mark.parametrize("low,high", [(0.0, 6.0), (-3.7, 11.2), (0.2, 2.9), (-5.0, -1.0)])
def test_activations_are_rounded_as_tflite_stores_them(low, high):
    """256 levels over the calibrated range widened to hold 0, 0 exactly on a level: TensorFlow's own
    fake quantisation, which TFLite's int8 activations follow."""
    from edge_bodypix.converters.int8_twin import fake_quantise

    values = tf.constant(np.linspace(low - 2, high + 2, 5001, dtype=np.float32))
    ours = fake_quantise(values, low, high).numpy()
    theirs = tf.quantization.fake_quant_with_min_max_args(values, min(low, 0.0), max(high, 0.0), num_bits=8).numpy()
    step = (max(high, 0.0) - min(low, 0.0)) / 255
    differ = np.abs(ours - theirs) > step * 1e-3
    assert differ.mean() < 1e-3 and np.abs(ours - theirs).max() <= step * 1.001  # float32 ties (59.499996) only
    assert len(np.unique(np.round(ours / step))) <= 256 and fake_quantise(tf.constant(0.0), low, high).numpy() == 0


def _moments(floats, twins):
    return twins.T @ twins, floats.T @ twins


def test_a_refit_restores_what_the_twin_s_inputs_lost_systematically():
    """Inputs that arrive 10% weak in some channels and offset in others: refitted rows give float's
    outputs back on other samples of the same kind, where the original rows miss."""
    rng = np.random.default_rng(0)
    width = 64
    gain = np.where(np.arange(width) % 2, 0.9, 1.0)

    def samples(count, seed):
        floats = np.abs(np.random.default_rng(seed).normal(size=(count, width)))
        return floats, floats * gain + 0.01 * np.random.default_rng(seed + 1).normal(size=(count, width))

    rows = rng.normal(size=(16, width))
    fold_a, fold_b, held_out = samples(3000, 1), samples(3000, 3), samples(3000, 5)
    refitted = reproducing_rows(rows, [_moments(*fold_a), _moments(*fold_b)])
    floats, twins = held_out
    kept_miss = ((floats @ rows.T - twins @ rows.T) ** 2).mean()
    refit_miss = ((floats @ rows.T - twins @ refitted.T) ** 2).mean()
    assert refit_miss < 0.05 * kept_miss


def test_a_refit_that_would_only_learn_the_samples_noise_is_not_made():
    """Twin inputs that differ from float by noise alone, few samples for many inputs: each row stays as
    it is unless a refit also helps on the other fold, so held-out outputs are not worse than unrefitted."""
    width = 256
    rows = np.random.default_rng(0).normal(size=(32, width))

    def samples(count, seed):
        floats = np.random.default_rng(seed).normal(size=(count, width))
        return floats, floats + 0.3 * np.random.default_rng(seed + 1).normal(size=(count, width))

    refitted = reproducing_rows(rows, [_moments(*samples(300, 1)), _moments(*samples(300, 3))])
    floats, twins = samples(5000, 5)
    kept_miss = ((floats @ rows.T - twins @ rows.T) ** 2).mean()
    refit_miss = ((floats @ rows.T - twins @ refitted.T) ** 2).mean()
    assert refit_miss <= kept_miss * 1.01


def _calibration(model, shape, count):
    rng = np.random.default_rng(7)
    return [rng.uniform(-1, 1, size=(1, *shape, 3)).astype(np.float32) for _ in range(count)]


def _round(model, float_layers=()):
    from edge_bodypix.converters.int8_twin import activation_ranges, round_on_twin, stored_tensors
    from edge_bodypix.converters.tfjs_graph import build_probe, convolutions, runnable_nodes

    nodes = runnable_nodes(model)
    every = convolutions(model)
    kept = [c for c in every if any(name in c.name for name in float_layers)]
    layers = [c for c in every if c not in kept]
    names = stored_tensors(nodes)
    inputs = _calibration(model, (65, 49), 4)
    ranges = activation_ranges(build_probe(model, names), names, inputs)
    return layers, kept, round_on_twin(model, nodes, layers, kept, inputs, ranges)


def _on_the_int8_grid(filter_, depthwise):
    rows = filter_.reshape(-1, filter_.shape[2]).T if depthwise else filter_.reshape(-1, filter_.shape[3]).T
    steps = rows / int8_scales(rows)[:, None]
    return np.allclose(steps, np.round(steps), atol=1e-3) and np.abs(np.round(steps)).max() <= INT8_LEVELS


def test_every_rounded_mobilenet_layer_lands_on_tflite_s_grid_and_the_float_layers_stay():
    from edge_bodypix.converters.tfjs_reader import read_tfjs

    model = read_tfjs(str(FLOAT_050_16))
    layers, kept, changed = _round(model, ("Conv2d_0", "Conv2d_1_depthwise"))
    assert len(kept) == 2 and len(layers) == 25 + 8  # 13 separable blocks less one depthwise, 8 heads
    for layer in layers:
        assert _on_the_int8_grid(changed[layer.weight], layer.depthwise), layer.name
        assert not np.array_equal(changed[layer.bias], model.weights[layer.bias])  # took up a mean shift
    assert not any(layer.weight in changed or layer.bias in changed for layer in kept)


@pytest.mark.slow  # GPTQ of ResNet50's 4608-input layers: minutes
def test_the_twin_runs_resnet50_s_padding_pooling_and_residual_additions():
    from edge_bodypix.converters.generated import resnet50_model

    model = resnet50_model(RESNET50_TOPOLOGY)
    layers, _, changed = _round(model)
    assert len(layers) == 61 and all(_on_the_int8_grid(changed[c.weight], c.depthwise) for c in layers)


def test_a_layer_fed_through_an_op_the_twin_cannot_run_is_named_and_float_input_gptq_remains(tmp_path):
    from edge_bodypix.converters.pipeline import _gptq_rounded
    from edge_bodypix.converters.tfjs_reader import read_tfjs

    model = read_tfjs(str(FLOAT_050_16))
    changed = copy.deepcopy(model.topology)
    node = next(n for n in changed["node"] if n["name"] == "MobilenetV1/Conv2d_5_depthwise/Relu6")
    node["op"] = "Elu"
    model.topology = changed
    with pytest.raises(ModelFormatError, match="Conv2d_5_pointwise.* reads MobilenetV1/Conv2d_5_depthwise/Relu6"):
        _round(model)
    import json
    import shutil

    data = json.loads(FLOAT_050_16.read_text())
    data["modelTopology"] = changed
    (tmp_path / "model-stride16.json").write_text(json.dumps(data))
    shutil.copy(FLOAT_050_16.parent / "group1-shard1of1.bin", tmp_path)
    inputs = [[x] for x in _calibration(model, (65, 49), 2)]
    function, fitted_on = _gptq_rounded(tmp_path / "model-stride16.json", inputs, inputs, ())
    assert fitted_on == "float" and callable(function)
