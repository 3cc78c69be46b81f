"""Pre-processing matches body-pix `padAndResizeTo` and each model's input normalisation."""

import numpy as np
import pytest

from edge_bodypix import InvalidParameterError
from edge_bodypix.adapters.geometry import Geometry, input_resolution
from edge_bodypix.adapters.preprocess import (
    RESNET50_MEAN,
    apply_lookup_table,
    check_image,
    input_lookup_table,
    pad_and_resize,
)

from tf_reference import pad_and_resize as tf_pad_and_resize


def random_image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "image_size, internal_resolution",
    [((480, 640), "medium"), ((1080, 1440), "low"), ((1001, 777), "medium"), ((300, 700), "high"),
     ((123, 77), 2.0), ((240, 320), 1.5), ((720, 1280), 0.8)],
)
def test_pad_and_resize_matches_tensorflow_resize_of_the_padded_image(image_size, internal_resolution):
    image = random_image(*image_size)
    target = input_resolution(image_size, internal_resolution, 16)
    geometry = Geometry.build(image_size, target, ((target[0] - 1) // 16 + 1, (target[1] - 1) // 16 + 1))
    p = geometry.padding
    expected = tf_pad_and_resize(image, target, (p.top, p.bottom, p.left, p.right))
    ours = pad_and_resize(image, geometry)
    assert ours.shape == (*target, 3) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(np.float64) - expected)
    # OpenCV interpolates with 1/32-pixel fixed-point weights and rounds to uint8
    assert diff.mean() < 1.5
    assert np.percentile(diff, 99) < 8


def test_pad_and_resize_reuses_the_output_buffer():
    image = random_image(480, 640)
    geometry = Geometry.build((480, 640), (241, 321), (16, 21))
    out = np.empty((241, 321, 3), np.uint8)
    assert pad_and_resize(image, geometry, out=out) is out


def test_coral_uint8_input_table_quantises_mobilenet_normalisation():
    table = input_lookup_table("mobilenet", np.uint8, (1 / 128, 128))
    assert table.shape == (256,)  # one table serves all three channels
    x = np.arange(256)
    expected = np.clip(np.round((x / 127.5 - 1) * 128 + 128), 0, 255)
    assert np.array_equal(table, expected)
    assert table[0] == 0 and table[255] == 255  # 256 saturates


def test_float_and_int8_tables():
    float_table = input_lookup_table("mobilenet", np.float32)
    assert float_table[0] == pytest.approx(-1.0) and float_table[255] == pytest.approx(1.0)
    int8_table = input_lookup_table("mobilenet", np.int8, (1 / 127.5, 0))
    assert int8_table.dtype == np.int8 and int8_table[0] == -128 and int8_table[255] == 127
    resnet = input_lookup_table("resnet50", np.float32)
    assert resnet.shape == (1, 256, 3)
    assert np.allclose(resnet[0, 200], 200 + np.array(RESNET50_MEAN), atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.float32, np.float16])
def test_lookup_table_applies_per_channel(dtype):
    quant = (1 / 128, 128) if dtype == np.uint8 else ((1 / 127.5, 0) if dtype == np.int8 else (0.0, 0))
    table = input_lookup_table("resnet50" if dtype in (np.float32, np.float16) else "mobilenet", dtype, quant)
    image = random_image(13, 17)
    out = apply_lookup_table(image, table)
    flat = table.reshape(256, 1).repeat(3, axis=1) if table.ndim == 1 else table.reshape(256, 3)
    expected = np.stack([flat[image[:, :, c], c] for c in range(3)], axis=-1)
    assert out.dtype == dtype
    assert np.array_equal(out, expected)


def test_check_image_accepts_rgb_and_rgba_uint8():
    rgb = random_image(10, 12)
    assert check_image(rgb) is rgb or np.array_equal(check_image(rgb), rgb)
    rgba = np.dstack([rgb, np.full((10, 12), 7, np.uint8)])
    assert np.array_equal(check_image(rgba), rgb)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("photo.jpg", "numpy array"),
        (np.zeros((10, 12), np.uint8), "HxWx3"),
        (np.zeros((10, 12, 2), np.uint8), "HxWx3"),
        (np.zeros((10, 12, 3), np.float32), "uint8"),
        (np.zeros((1, 12, 3), np.uint8), "too small"),
    ],
)
def test_check_image_names_what_is_wrong(bad, message):
    with pytest.raises(InvalidParameterError, match=message):
        check_image(bad)


def test_an_absurdly_large_image_is_refused_before_any_work():
    from edge_bodypix.adapters.preprocess import MAX_IMAGE_PIXELS, check_image

    # a 20000x20000 frame without its 1.2 GB: a zero-stride view of one pixel
    huge = np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), shape=(20000, 20000, 3), strides=(0, 0, 1))
    with pytest.raises(InvalidParameterError, match=r"image is 20000x20000 pixels \(400 MP\), more than the 120 MP"):
        check_image(huge)
    assert check_image(np.zeros((3000, 4000, 3), np.uint8)).shape == (3000, 4000, 3)  # a 12 MP phone photo is fine
    assert 11648 * 8736 <= MAX_IMAGE_PIXELS  # and so is the largest camera sensor's frame
