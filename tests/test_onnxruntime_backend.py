"""ONNX Runtime backend: real ONNX exports at both strides, provider choice, clear failures."""

import logging
import sys

import pytest

import edge_bodypix as eb
from edge_bodypix import BackendUnavailableError
from edge_bodypix.backends.onnxruntime.backend import PROVIDERS, choose_providers

from conftest import MODELS, cell_px, outline_displacement

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module", params=[16, 8])
def onnx_net(request):
    return eb.load(model=f"MobileNetV1-x050-stride{request.param}", backend="onnxruntime")


def test_provider_preference_follows_what_onnxruntime_reports():
    jetson = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    chosen = choose_providers(jetson, cache_dir="/var/lib/edge-bodypix/tensorrt-cache")
    assert [p for p, _ in chosen] == jetson
    trt_options = chosen[0][1]
    assert trt_options["trt_engine_cache_enable"] == "True"
    assert trt_options["trt_engine_cache_path"] == "/var/lib/edge-bodypix/tensorrt-cache"
    assert trt_options["trt_fp16_enable"] == "True"
    assert [p for p, _ in choose_providers(["CUDAExecutionProvider", "CPUExecutionProvider"])] == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    # the CPU is always there to fall back to, even when not asked for
    assert [p for p, _ in choose_providers(jetson, preference=("cuda",))] == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(BackendUnavailableError, match="unknown execution provider"):
        choose_providers(jetson, preference=("rocm",))


def test_missing_gpu_providers_are_warned_about_only_when_asked_for_by_name(caplog):
    with caplog.at_level(logging.DEBUG):
        chosen = choose_providers(["CPUExecutionProvider"])  # the default list: try what may be there
    assert [p for p, _ in chosen] == ["CPUExecutionProvider"]
    assert {r.levelno for r in caplog.records} == {logging.DEBUG}  # reported with -v, not on every run
    assert "TensorrtExecutionProvider" in caplog.text and "CUDAExecutionProvider" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        choose_providers(["CPUExecutionProvider"], preference=("cuda", "cpu"))
    assert "CUDAExecutionProvider" in caplog.text and caplog.records[0].levelno == logging.WARNING


def test_this_host_runs_onnx_models_on_the_cpu_provider(onnx_net):
    assert "onnxruntime" in onnx_net.info.backend and "CPU" in onnx_net.info.backend
    assert onnx_net.backend.provider == PROVIDERS["cpu"]
    assert set(onnx_net.backend.roles) >= {"segments", "part_heatmaps", "heatmaps", "short_offsets",
                                           "long_offsets", "displacement_fwd", "displacement_bwd", "part_offsets"}


@pytest.mark.parametrize("input_size", [(161, 161), (241, 321), (529, 721)])
def test_dynamic_input_sizes_give_the_stride_grid(onnx_net, input_size):
    stride = onnx_net.output_stride
    assert onnx_net.backend.prepare(input_size) == ((input_size[0] - 1) // stride + 1,
                                                      (input_size[1] - 1) // stride + 1)


@pytest.mark.parametrize("resolution", ["low", "medium", "high"])
def test_onnx_masks_are_plausible_and_close_to_the_tflite_model(onnx_net, net, photos, resolution):
    # different networks (0.50 float here, 0.75 uint8 there): close, not equal
    image = photos["one"]
    ours = onnx_net.segment_person(image, internal_resolution=resolution)
    assert 0.2 < ours.person_fraction < 0.5
    # different networks see the person alike to within one output-stride cell of outline
    cell = cell_px(image.shape, net.input_size_for(image.shape[:2], resolution), net.output_stride)
    assert outline_displacement(net.segment_person(image, internal_resolution=resolution).data, ours.data) <= cell


def test_multi_person_works_on_onnx_models(onnx_net, photos):
    people = onnx_net.segment_multi_person(photos["two"])
    assert len(people) == 2


def test_auto_backend_follows_the_model_file():
    assert "onnxruntime" in eb.load(model="MobileNetV1-x050-stride16", backend="auto").info.backend
    # no CUDA or TensorRT here: the default model stays on LiteRT
    assert "onnxruntime" not in eb.load(backend="auto").info.backend


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install 'edge-bodypix\[onnx\]'"):
        eb.load(model="MobileNetV1-x050-stride16", backend="onnxruntime")


def test_tflite_models_are_refused_by_the_onnx_backend_and_vice_versa():
    with pytest.raises(eb.ModelFormatError, match="onnxruntime backend runs .onnx models"):
        eb.load(model=str(MODELS / "coral" / "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"),
                backend="onnxruntime")
    with pytest.raises(eb.InvalidParameterError, match="backend 'tensorflow'"):
        eb.load(backend="tensorflow")
