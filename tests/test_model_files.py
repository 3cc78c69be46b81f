"""Model files are vetted before an interpreter sees them; failures name the file and the cause."""

import shutil

import numpy as np
import pytest

import edge_bodypix
from edge_bodypix import AcceleratorUnavailableError, ModelFormatError
from edge_bodypix.backends.tflite.edgetpu import EDGETPU_LIBRARIES, edgetpu_library_name, is_edgetpu_model
from edge_bodypix.backends.tflite.flatbuffer import read_tflite_info

from conftest import CORAL, DECODER_MODEL, DEFAULT_MODEL, EDGETPU_MODEL, PHOTOS, iou


@pytest.mark.parametrize(
    "name, ops",
    [
        ("bodypix_mobilenet_v1_075_720_1280_16_quant.tflite", ()),
        ("bodypix_mobilenet_v1_075_720_1280_16_quant_edgetpu.tflite", ("edgetpu-custom-op",)),
        ("bodypix_mobilenet_v1_075_640_480_16_quant_decoder.tflite", ("PosenetDecoderOp",)),
        ("bodypix_mobilenet_v1_075_640_480_16_quant_decoder_edgetpu.tflite", ("edgetpu-custom-op", "PosenetDecoderOp")),
    ],
)
def test_custom_ops_are_read_from_the_coral_models(name, ops):
    info = read_tflite_info(CORAL / name)
    assert info.custom_ops == ops
    assert is_edgetpu_model(info.custom_ops) == ("edgetpu-custom-op" in ops)


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.01])
def test_a_truncated_model_is_reported_as_truncated(tmp_path, keep):
    data = DEFAULT_MODEL.read_bytes()
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFormatError, match=r"broken.tflite: truncated or corrupt TFLite file"):
        edgetpu_free_load(broken)


def test_a_file_that_is_not_tflite_is_reported_with_its_name(tmp_path):
    fake = tmp_path / "photo.tflite"
    shutil.copy(PHOTOS["one"], fake)
    with pytest.raises(ModelFormatError, match=r"photo.tflite: not a TFLite model"):
        edgetpu_free_load(fake)


def test_an_empty_file_is_not_a_model(tmp_path):
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        edgetpu_free_load(empty)


def test_the_decoder_model_needs_a_custom_op_and_says_which():
    with pytest.raises(ModelFormatError, match=r"_decoder.tflite: needs the custom op\(s\) PosenetDecoderOp"):
        edgetpu_free_load(DECODER_MODEL)


def test_an_edgetpu_model_without_a_tpu_names_the_cpu_twin():
    with pytest.raises(AcceleratorUnavailableError) as caught:
        edge_bodypix.load(model=str(EDGETPU_MODEL))
    message = str(caught.value)
    assert "compiled for the Edge TPU" in message
    assert edgetpu_library_name() in message
    assert "bodypix_mobilenet_v1_075_720_1280_16_quant" in message  # the CPU twin from the catalogue


def test_an_edgetpu_model_outside_the_catalogue_still_suggests_its_cpu_version(tmp_path):
    copy = tmp_path / "my_model_edgetpu.tflite"
    shutil.copy(EDGETPU_MODEL, copy)
    with pytest.raises(AcceleratorUnavailableError, match="without '_edgetpu'"):
        edge_bodypix.load(model=str(copy))


def test_edgetpu_library_names_per_platform():
    assert EDGETPU_LIBRARIES == {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
    assert edgetpu_library_name("Linux") == "libedgetpu.so.1"
    with pytest.raises(AcceleratorUnavailableError, match="not available for 'Plan9'"):
        edgetpu_library_name("Plan9")


def test_the_edgetpu_delegate_is_requested_with_the_device_option(monkeypatch):
    from edge_bodypix.backends.tflite import edgetpu

    monkeypatch.setattr(edgetpu.ctypes, "CDLL", lambda name: name)  # pretend libedgetpu is installed
    load_edgetpu_delegate = edgetpu.load_edgetpu_delegate
    calls = []

    def fake_load_delegate(library, options):
        calls.append((library, options))
        return "delegate"

    assert load_edgetpu_delegate(fake_load_delegate, "m.tflite", device="usb:0") == "delegate"
    assert calls == [(edgetpu_library_name(), {"device": "usb:0"})]


def test_a_model_copied_under_another_name_loads_with_metadata_measured_from_the_model(tmp_path, photos):
    copy = tmp_path / "renamed.tflite"
    shutil.copy(DEFAULT_MODEL, copy)
    net = edge_bodypix.load(model=str(copy))
    assert net.info.output_stride == 16  # measured from its output grid
    assert net.info.architecture == "MobileNetV1"
    reference = edge_bodypix.load(model=str(DEFAULT_MODEL))
    image = photos["two"]
    assert np.array_equal(net.segment_person(image).data, reference.segment_person(image).data)


def test_sidecar_metadata_is_used_for_models_outside_the_catalogue(tmp_path):
    copy = tmp_path / "custom.tflite"
    shutil.copy(DEFAULT_MODEL, copy)
    (tmp_path / "custom.meta.json").write_text(
        '{"architecture": "MobileNetV1", "multiplier": 0.75, "output_stride": 16, '
        '"quantisation": "uint8 (test)", "normalisation": "mobilenet"}'
    )
    net = edge_bodypix.load(model=str(copy))
    assert net.info.quantisation == "uint8 (test)"


def test_onnx_models_are_not_run_by_the_tflite_runtime():
    from conftest import MODELS

    with pytest.raises(ModelFormatError, match="use backend=.onnxruntime."):
        edge_bodypix.load(model=str(MODELS / "onnx" / "MobileNetV1-x050-stride16.onnx"))


def edgetpu_free_load(path):
    return edge_bodypix.load(model=str(path))


def test_iou_helper():
    a = np.array([[1, 1], [0, 0]])
    assert iou(a, a) == 1.0 and iou(a, 1 - a) == 0.0


def test_the_device_policy_picks_the_edge_tpu_twin_and_falls_back_to_the_cpu_one_unless_required(caplog):
    import logging

    from edge_bodypix import AcceleratorUnavailableError
    from edge_bodypix.loader import load_on_device

    with caplog.at_level(logging.WARNING):
        net = load_on_device("edgetpu")  # the default's Edge TPU build; no TPU here, so its CPU twin
    assert net.info.name == "bodypix_mobilenet_v1_075_720_1280_16_quant"
    assert "Edge TPU unavailable" in caplog.text and "falling back to the CPU model" in caplog.text
    with pytest.raises(AcceleratorUnavailableError):
        load_on_device("edgetpu", edgetpu_required=True)
    assert load_on_device("cpu").info.name == "bodypix_mobilenet_v1_075_720_1280_16_quant"
    with pytest.raises(edge_bodypix.InvalidParameterError, match="device 'tpu'"):
        load_on_device("tpu")
