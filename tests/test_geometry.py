"""Sizes and padding follow body-pix 2.2.1 `util.ts` exactly."""

import numpy as np
import pytest

from edge_bodypix import InvalidParameterError
from edge_bodypix.adapters.geometry import (
    Geometry,
    Padding,
    input_resolution,
    internal_resolution_fraction,
    padding_for_aspect,
    resampling_matrix,
    to_valid_input_resolution,
)

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("name, fraction", [("low", 0.25), ("medium", 0.5), ("high", 0.75), ("full", 1.0)])
def test_named_internal_resolutions(name, fraction):
    assert internal_resolution_fraction(name) == fraction


@pytest.mark.parametrize("value", [0.1, 0.33, 1, 2.0])
def test_numeric_internal_resolution_in_range_is_accepted(value):
    assert internal_resolution_fraction(value) == pytest.approx(value)


@pytest.mark.parametrize("value", ["huge", "Medium", 0.05, 2.5, True, None, [0.5]])
def test_bad_internal_resolution_is_rejected_with_its_value(value):
    with pytest.raises(InvalidParameterError, match="internal_resolution"):
        internal_resolution_fraction(value)


@pytest.mark.parametrize("size, stride, expected", [(540, 16, 529), (720, 16, 721), (529, 16, 529), (240, 16, 241),
                                                    (320, 16, 321), (240, 8, 241), (161, 32, 161), (100.5, 16, 97)])
def test_valid_input_resolution_is_k_times_stride_plus_one(size, stride, expected):
    assert to_valid_input_resolution(size, stride) == expected
    assert (expected - 1) % stride == 0


def test_input_sizes_of_the_shared_photo_and_a_camera_frame():
    assert input_resolution((1080, 1440), "medium", 16) == (529, 721)
    assert input_resolution((480, 640), "medium", 16) == (241, 321)
    assert input_resolution((1080, 1440), "full", 16) == (1073, 1441)


def test_a_phone_photo_at_a_named_resolution_is_fed_like_a_1440_px_photo_and_a_number_is_taken_as_given():
    assert input_resolution((3000, 4000), "medium", 16) == input_resolution((1080, 1440), "medium", 16) == (529, 721)
    assert input_resolution((4000, 3000), "full", 16) == (1441, 1073)  # portrait: the longer side is capped
    assert input_resolution((3000, 4000), 0.5, 16) == (1489, 2001)  # an explicit fraction is not capped


def test_padding_goes_on_both_sides_of_one_axis():
    # 640x480 into 241x321: 0.5 * (241/321*640 - 480) = 0.25 rounds to no padding at all
    assert padding_for_aspect((480, 640), (241, 321)) == Padding()
    # a wide image into a square input pads top and bottom
    assert padding_for_aspect((100, 200), (161, 161)) == Padding(top=50, bottom=50)
    # a tall image into a square input pads left and right
    assert padding_for_aspect((200, 100), (161, 161)) == Padding(left=50, right=50)
    # 1001x777 into 497x385: 0.5 * (497/385*777 - 1001) = 1.015 -> one row each side
    assert padding_for_aspect((1001, 777), (497, 385)) == Padding(top=1, bottom=1)


def test_padding_rounds_halves_up_like_javascript():
    # 0.5 * (1.0 * 100 - 99) = 0.5: Math.round gives 1 where Python's round gives 0
    assert padding_for_aspect((100, 99), (161, 161)) == Padding(left=1, right=1)


def test_resampling_matrix_lands_on_the_requested_grid_positions():
    import cv2

    geometry = Geometry.build((480, 640), (241, 321), (16, 21))
    coords = geometry.image_to_grid_coords(1)
    matrix, margin = resampling_matrix(coords, 21, 8)
    # a linear ramp over the grid comes back as the grid coordinate of each image column
    ramp = np.arange(21, dtype=np.float32)[None, :]
    resampled = (ramp @ matrix.T.astype(np.float32)).repeat(2, axis=0)
    image = cv2.resize(resampled, (640 + 2 * margin, 2), interpolation=cv2.INTER_LINEAR)[0, margin:-margin]
    # every image column, edges included, samples exactly its grid position
    assert np.allclose(image, coords, atol=1e-3)


def test_image_to_grid_coords_span_the_unpadded_part_of_the_grid():
    geometry = Geometry.build((200, 100), (161, 161), (11, 11))
    assert geometry.padding == Padding(left=50, right=50)
    rows, cols = geometry.image_to_grid_coords(0), geometry.image_to_grid_coords(1)
    assert rows[0] == pytest.approx(0.0) and rows[-1] == pytest.approx(10.0)
    # columns: the box [50 / 199, 149 / 199] of the 161-wide input, in grid cells of 16 pixels
    assert cols[0] == pytest.approx(50 / 199 * 160 / 16)
    assert cols[-1] == pytest.approx(149 / 199 * 160 / 16)
    assert np.all(np.diff(cols) > 0)
