"""No NaN or infinity ever reaches a decision: every numeric parameter is refused by name."""

import math

import numpy as np
import pytest

from edge_bodypix import InvalidParameterError, anonymize, draw_pixelated_mask
from edge_bodypix.checks import check_number
from edge_bodypix.options import MultiPersonOptions, SegmentationOptions

NOT_FINITE = [math.nan, math.inf, -math.inf, np.float32("nan")]


@pytest.mark.parametrize("value", NOT_FINITE)
def test_check_number_refuses_nan_and_infinity_even_without_bounds(value):
    with pytest.raises(InvalidParameterError, match="speed .* is not a finite number"):
        check_number("speed", value)


def test_check_number_names_the_interval_and_kind():
    assert check_number("x", 0.5, 0, 1) == 0.5
    assert check_number("n", 3, 1, 20, integer=True) == 3
    with pytest.raises(InvalidParameterError, match=r"x 1.5 is outside \[0, 1\]"):
        check_number("x", 1.5, 0, 1)
    with pytest.raises(InvalidParameterError, match=r"x 0 is outside \(0, inf\)"):
        check_number("x", 0, 0, low_open=True)
    with pytest.raises(InvalidParameterError, match=r"n 2.5 must be a whole number in \[1, 20\]"):
        check_number("n", 2.5, 1, 20, integer=True)
    with pytest.raises(InvalidParameterError, match="x must be a number, got True"):
        check_number("x", True)


@pytest.mark.parametrize("value", NOT_FINITE)
@pytest.mark.parametrize("parameter", ["min_keypoint_score", "margin_px", "strength"])
def test_anonymize_refuses_non_finite_parameters_instead_of_protecting_nothing(scene, parameter, value):
    # min_keypoint_score=NaN used to be accepted and protected 0 pixels
    with pytest.raises(InvalidParameterError, match=f"{parameter}.*(not a finite number|outside)"):
        anonymize(scene["image"], scene["parts"], target="faces", **{parameter: value})


@pytest.mark.parametrize("parameter", ["segmentation_threshold", "score_threshold", "nms_radius"])
def test_segmentation_refuses_nan(net, frames, parameter):
    with pytest.raises(InvalidParameterError, match=f"{parameter} nan is not a finite number"):
        net.segment_person(frames["one"], **{parameter: math.nan})


def test_multi_person_refuses_nan_keypoint_score(net, frames):
    with pytest.raises(InvalidParameterError, match="min_keypoint_score nan is not a finite number"):
        net.segment_multi_person(frames["one"], min_keypoint_score=math.nan)


def test_pixelation_refuses_a_nan_cell_width(scene):
    mask = np.zeros(scene["image"].shape, np.uint8)
    with pytest.raises(InvalidParameterError, match="pixel_cell_width nan is not a finite number"):
        draw_pixelated_mask(scene["image"], mask, pixel_cell_width=math.nan)


@pytest.mark.parametrize("color, message", [((300, 0, 0), r"fill_color\[0\] 300"), ((0, 0), "three numbers"),
                                            ("red", "three numbers"), ((0, math.nan, 0), r"fill_color\[1\] nan")])
def test_an_invalid_fill_color_is_a_named_error_not_a_black_frame(scene, color, message):
    with pytest.raises(InvalidParameterError, match=message):
        anonymize(scene["image"], scene["person"], target="persons", method="fill", fill_color=color)


def test_options_are_checked_once_when_built_and_shared_by_the_daemon_config():
    from edge_bodypix.daemon.config import ConfigError, load_config
    from edge_bodypix.options import MultiPersonOptions, SegmentationOptions

    assert SegmentationOptions() == SegmentationOptions(False, "medium", 0.7, 10, 0.4, 20.0)  # body-pix's defaults
    assert MultiPersonOptions().refine_steps == 10 and MultiPersonOptions().min_keypoint_score == 0.3
    with pytest.raises(InvalidParameterError, match="refine_steps 21"):
        MultiPersonOptions(refine_steps=21)
    with pytest.raises(InvalidParameterError, match="flip_horizontal"):
        SegmentationOptions(flip_horizontal="yes")
    with pytest.raises(InvalidParameterError, match="internal_resolution"):
        SegmentationOptions(internal_resolution="huge")
    config = load_config(None, {"model": {"segmentation_threshold": 0.5, "internal_resolution": "low"}})
    assert config.model.options() == SegmentationOptions(internal_resolution="low", segmentation_threshold=0.5)
    with pytest.raises(ConfigError, match=r"\[model\] segmentation_threshold 1.5"):
        load_config(None, {"model": {"segmentation_threshold": 1.5}})


@pytest.mark.parametrize("method, options", [
    ("segment_person", SegmentationOptions), ("segment_person_parts", SegmentationOptions),
    ("segment_multi_person", MultiPersonOptions), ("segment_multi_person_parts", MultiPersonOptions),
])
def test_each_body_pix_method_takes_exactly_its_options_parameters_with_the_same_defaults(method, options):
    """The keyword API spells body-pix's parameters out per method; the options dataclass is the one source of truth."""
    import dataclasses
    import inspect

    from edge_bodypix import BodyPix

    parameters = list(inspect.signature(getattr(BodyPix, method)).parameters.values())[2:]  # after self, image
    assert [(p.name, p.default) for p in parameters] == [(f.name, f.default) for f in dataclasses.fields(options)]
