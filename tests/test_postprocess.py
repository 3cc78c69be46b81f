"""Post-processing on arrays reproduces body-pix's `scaleAndCropToInputTensorShape`, mask and part decoding."""

import math

import cv2
import numpy as np
import pytest

from edge_bodypix.adapters.geometry import Geometry, input_resolution
from edge_bodypix.adapters.segmentation import (
    SegmentationMaps,
    argmax_of_rows,
    grid_box,
    part_labels_on_grid,
    part_map,
    person_grid,
    person_mask,
    segment_logits_to_image,
    threshold_logit,
)

from tf_reference import scale_and_crop

pytestmark = pytest.mark.pure


def smooth_grid(shape, channels, seed):
    """Grid logits with image-like spatial structure (blurred noise), like a real network's."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 4, (shape[0], shape[1], channels)).astype(np.float32)
    return cv2.GaussianBlur(noise, (3, 3), 0).reshape(shape[0], shape[1], channels) * 2


def build(image_size, internal_resolution="medium", part_factor=8):
    input_size = input_resolution(image_size, internal_resolution, 16)
    grid = ((input_size[0] - 1) // 16 + 1, (input_size[1] - 1) // 16 + 1)
    geometry = Geometry.build(image_size, input_size, grid)
    return geometry, SegmentationMaps.build(geometry, part_factor)


def pads(geometry):
    p = geometry.padding
    return (p.top, p.bottom, p.left, p.right)


@pytest.mark.parametrize("threshold, expected", [(0.5, 0.0), (0.7, math.log(0.7 / 0.3)), (0.0, -math.inf), (1.0, math.inf)])
def test_threshold_in_logit_space(threshold, expected):
    assert threshold_logit(threshold) == pytest.approx(expected)


@pytest.mark.parametrize("image_size, resolution", [((480, 640), "medium"), ((1001, 777), "low"), ((1080, 1440), 0.8)])
def test_logits_follow_body_pix_scale_and_crop(image_size, resolution):
    geometry, maps = build(image_size, resolution)
    grid = smooth_grid(geometry.grid_size, 1, 1)
    expected = scale_and_crop(grid, image_size, geometry.input_size, pads(geometry), sigmoid=False)[:, :, 0]
    ours = segment_logits_to_image(grid[:, :, 0], maps)
    assert ours.shape == image_size
    error = np.abs(ours - expected)
    # body-pix interpolates at input-pixel pitch; so do we, with other sample positions
    assert error.max() < 0.03 * np.abs(grid).max()
    assert error.mean() < 0.003


@pytest.mark.parametrize("threshold", [0.3, 0.7, 0.9])
def test_person_mask_matches_thresholded_sigmoid_of_body_pix(threshold):
    geometry, maps = build((1001, 777), "medium")
    grid = smooth_grid(geometry.grid_size, 1, 2)
    scores = scale_and_crop(grid, (1001, 777), geometry.input_size, pads(geometry))[:, :, 0]
    expected = scores > threshold
    mask = person_mask(grid[:, :, 0], maps, threshold)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    union = np.logical_or(mask, expected).sum()
    assert np.logical_and(mask, expected).sum() / union > 0.99


def test_extreme_thresholds_give_all_or_nothing():
    geometry, maps = build((480, 640))
    grid = smooth_grid(geometry.grid_size, 1, 3)[:, :, 0]
    assert person_mask(grid, maps, 1.0).sum() == 0
    assert person_mask(grid, maps, 0.0).all()


@pytest.mark.parametrize("axis", [0, 1])
def test_argmax_of_rows_takes_the_first_of_ties(axis):
    rng = np.random.default_rng(4)
    values = rng.integers(0, 4, (6, 30, 40)).astype(np.float32)  # many ties
    assert np.array_equal(argmax_of_rows(values, axis), np.argmax(values, axis=axis))


def test_part_map_is_argmax_of_body_pix_part_scores_inside_the_mask():
    image_size = (480, 640)
    geometry, maps = build(image_size)
    parts = smooth_grid(geometry.grid_size, 24, 5)
    segments = smooth_grid(geometry.grid_size, 1, 6)[:, :, 0] + 2
    mask = person_mask(segments, maps, 0.7)
    ours = part_map(parts, mask, maps, person_grid(segments, 0.7))
    assert ours.dtype == np.int32
    assert np.all(ours[mask == 0] == -1)
    assert np.all((ours[mask == 1] >= 0) & (ours[mask == 1] < 24))
    scores = scale_and_crop(parts, image_size, geometry.input_size, pads(geometry))
    expected = np.argmax(scores, axis=2)
    inside = mask == 1
    assert (ours[inside] == expected[inside]).mean() > 0.95


def test_part_map_without_a_person_is_all_minus_one():
    geometry, maps = build((480, 640))
    parts = smooth_grid(geometry.grid_size, 24, 7)
    empty = np.zeros((480, 640), np.uint8)
    assert np.all(part_map(parts, empty, maps, np.zeros(geometry.grid_size, bool)) == -1)
    assert grid_box(person_grid(np.full(geometry.grid_size, -9.0, np.float32), 0.7)) is None


def test_part_argmax_is_limited_to_the_cells_that_can_hold_a_person():
    geometry, maps = build((480, 640))
    parts = smooth_grid(geometry.grid_size, 24, 8)
    segments = np.full(geometry.grid_size, -8.0, np.float32)
    segments[5:9, 6:12] = 6.0  # one person in the middle of the frame
    mask = person_mask(segments, maps, 0.7)
    cells = grid_box(person_grid(segments, 0.7))
    assert cells == ((5, 8), (6, 11))
    limited = part_map(parts, mask, maps, person_grid(segments, 0.7))
    everywhere = part_map(parts, mask, maps, np.ones(geometry.grid_size, bool))
    assert mask.sum() > 10000
    assert np.array_equal(limited, everywhere)


def test_face_evidence_is_a_disc_per_weak_face_cell_in_image_pixels():
    from edge_bodypix.adapters.segmentation import face_discs

    geometry = Geometry.build((480, 640), (241, 321), (16, 21))  # 640x480 at medium, stride 16
    segments = np.full((16, 21), -5.0, np.float32)
    parts = np.zeros((16, 21, 24), np.float32)
    parts[..., 12] = 1.0  # torso is the likeliest part everywhere...
    segments[3, 14] = 0.0  # ...a weak person cell (score 0.5) whose likeliest part is a face
    parts[3, 14, 1] = 3.0
    segments[8, 5] = 3.0  # a strong face cell: the part map labels it already
    parts[8, 5, 0] = 3.0
    segments[10, 10] = 0.0  # a weak cell that is no face
    ((x, y, radius),) = face_discs(segments, parts, geometry, mask_threshold=0.7)
    assert math.isclose(y, 3 * 16 * 480 / 241) and math.isclose(x, 14 * 16 * 640 / 321)
    assert math.isclose(radius, 0.75 * 16 * 640 / 321)
    assert face_discs(segments, parts, geometry, mask_threshold=0.4) == ()  # 0.5 is a mask pixel then


def dense_part_labels(parts, resampler):
    """Reference: every channel interpolated at every resampled sample (edge weights clamped), then argmax."""
    from edge_bodypix.adapters.geometry import Taps

    def clamped(taps):
        return Taps(taps.low, taps.high, np.clip(taps.frac, 0, 1)).matrix(parts.shape[0 if taps is resampler.rows else 1])

    rows, cols = clamped(resampler.rows), clamped(resampler.cols)
    values = np.einsum("ry,yxc,sx->rsc", rows, parts.astype(np.float64), cols)
    return np.argmax(values, axis=2).astype(np.uint8)


def part_like_grid(shape, seed, margin):
    """Part logits as a network gives them: one part leads in each region, by `margin` over smooth noise."""
    coarse = np.argmax(smooth_grid((shape[0] // 4 + 1, shape[1] // 4 + 1), 24, seed), axis=2)
    regions = coarse.repeat(4, axis=0).repeat(4, axis=1)[:shape[0], :shape[1]]  # parts a few cells across
    return smooth_grid(shape, 24, seed + 100) * 0.25 + margin * np.eye(24, dtype=np.float32)[regions]


@pytest.mark.parametrize("slots", [1, 4, 24])
@pytest.mark.parametrize("seed, margin", [(9, 4.0), (10, 0.5), (11, 8.0)])
def test_part_labels_equal_the_argmax_over_every_channel(seed, margin, slots, monkeypatch):
    # margin 0.5: nearly tied channels, so many cells are crowded with candidates and take the slow path;
    # one slot sends every cell with two candidates there, 24 none
    from edge_bodypix.adapters import segmentation

    monkeypatch.setattr(segmentation, "PART_CANDIDATE_SLOTS", slots)
    geometry, maps = build((480, 640))
    parts = part_like_grid(geometry.grid_size, seed, margin)
    whole = maps.parts.span((0, geometry.grid_size[0] - 1), (0, geometry.grid_size[1] - 1))
    ours = part_labels_on_grid(parts, maps.parts, whole)
    expected = dense_part_labels(parts, maps.parts)
    assert len(np.unique(expected)) > 5
    # float32 against float64 sums: only samples whose two best channels are within rounding may differ
    assert (ours != expected).mean() < 1e-4
