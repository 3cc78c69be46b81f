"""body-pix's rendering helpers on numpy images: what changes, what stays byte-identical, validation."""

import cv2
import numpy as np
import pytest

import edge_bodypix as eb
from edge_bodypix import InvalidParameterError
from edge_bodypix.rendering.blur import canvas_blur, gaussian_kernel_size

FACES = (0, 1)




def dilate(mask, pixels):
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def test_to_mask_defaults_and_lists(scene):
    mask = eb.to_mask(scene["person"])
    assert mask.shape == (480, 640, 4) and mask.dtype == np.uint8
    person = scene["person"].data == 1
    assert np.all(mask[person] == (0, 0, 0, 0)) and np.all(mask[~person] == (0, 0, 0, 255))
    multi = eb.to_mask(scene["people"], (255, 0, 0, 255), (0, 0, 0, 0))
    assert np.array_equal(multi[:, :, 3] == 255, person)
    assert eb.to_mask([]) is None and eb.to_colored_part_mask([]) is None


def test_colored_part_mask_uses_the_rainbow_and_white(scene):
    colored = eb.to_colored_part_mask(scene["parts"])
    parts = scene["parts"].data
    assert np.all(colored[parts == -1] == (255, 255, 255, 255))
    for part in (0, 12):
        assert np.all(colored[parts == part][:, :3] == eb.RAINBOW[part])
    assert eb.to_colored_part_image_data is eb.to_colored_part_mask


def test_draw_mask_blends_only_where_the_mask_is_opaque(scene):
    image = scene["image"]
    mask = eb.to_mask(scene["person"])  # transparent on people, opaque black elsewhere
    out = eb.draw_mask(image, mask)
    person = scene["person"].data == 1
    assert np.array_equal(out[person], image[person])
    expected = np.clip(image[~person] * 0.3 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(out[~person].astype(int) - expected).max() <= 1
    assert np.array_equal(eb.draw_mask(image, mask, mask_opacity=0.0), image)
    assert np.array_equal(eb.draw_mask(image, None), image)


def test_draw_mask_blur_softens_the_edge_only(scene):
    image = scene["image"]
    mask = eb.to_mask(scene["person"])
    sharp, soft = eb.draw_mask(image, mask), eb.draw_mask(image, mask, mask_blur_amount=3)
    edge = dilate(scene["person"].data, gaussian_kernel_size(3) // 2) & ~cv2.erode(
        scene["person"].data, np.ones((2 * (gaussian_kernel_size(3) // 2) + 1,) * 2, np.uint8)).astype(bool)
    # away from the edge the blurred mask is still 0 or 1 (up to float rounding)
    assert np.abs(sharp[~edge].astype(int) - soft[~edge]).max() <= 1
    assert np.abs(sharp[edge].astype(int) - soft[edge]).max() > 10


def test_pixelated_mask_is_made_of_cells_with_a_white_grid(scene):
    image = scene["image"]
    colored = eb.to_colored_part_mask(scene["parts"])
    out = eb.draw_pixelated_mask(image, colored, mask_opacity=1.0, pixel_cell_width=10)
    assert np.all(out[:, 0] == 255) and np.all(out[0, :] == 255) and np.all(out[:, 10] == 255)
    cell = out[11:20, 11:20].reshape(-1, 3)
    assert (cell == cell[0]).all()  # one colour per cell


def test_bokeh_keeps_people_sharp_and_blurs_the_background(scene):
    image = scene["image"]
    out = eb.draw_bokeh_effect(image, scene["person"], background_blur_amount=6, edge_blur_amount=3)
    person = scene["person"].data.astype(bool)
    reach = gaussian_kernel_size(3) // 2
    inner = ~dilate(~person, reach)
    far_background = ~dilate(person, reach)
    assert np.array_equal(out[inner], image[inner])
    expected = canvas_blur(image, 6)
    assert np.abs(out[far_background].astype(int) - expected[far_background]).max() <= 1
    assert np.array_equal(eb.draw_bokeh_effect(image, []), canvas_blur(image, 3))


def test_blur_body_part_changes_faces_and_nothing_far_from_them(scene):
    image = scene["image"]
    out = eb.blur_body_part(image, scene["parts"], background_blur_amount=6)
    faces = np.isin(scene["parts"].data, FACES)
    near = dilate(faces, gaussian_kernel_size(3) // 2 + 1)
    assert np.array_equal(out[~near], image[~near])
    assert (out[faces] != image[faces]).any(axis=1).mean() > 0.5
    torso = eb.blur_body_part(image, scene["parts"], body_part_ids_to_blur=[12, 13])
    assert not np.array_equal(torso, image)


@pytest.mark.parametrize("effect", ["mask", "pixelated", "bokeh", "blur_parts"])
def test_flip_horizontal_mirrors_the_output_exactly(scene, effect):
    image, parts = scene["image"], scene["parts"]
    calls = {
        "mask": lambda flip: eb.draw_mask(image, eb.to_colored_part_mask(parts), flip_horizontal=flip),
        "pixelated": lambda flip: eb.draw_pixelated_mask(image, eb.to_colored_part_mask(parts), flip_horizontal=flip),
        "bokeh": lambda flip: eb.draw_bokeh_effect(image, scene["person"], flip_horizontal=flip),
        "blur_parts": lambda flip: eb.blur_body_part(image, parts, flip_horizontal=flip),
    }
    assert np.array_equal(calls[effect](True), calls[effect](False)[:, ::-1])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: eb.draw_mask(s["image"], eb.to_mask(s["person"]), mask_opacity=1.5), "mask_opacity 1.5"),
        (lambda s: eb.draw_mask(s["image"], eb.to_mask(s["person"]), mask_blur_amount=21), "mask_blur_amount 21"),
        (lambda s: eb.draw_mask(s["image"], eb.to_mask(s["person"])[:100]), "dimensions must match"),
        (lambda s: eb.draw_bokeh_effect(s["image"], s["person"], background_blur_amount=-1), "background_blur_amount -1"),
        (lambda s: eb.blur_body_part(s["image"], s["parts"], edge_blur_amount=30), "edge_blur_amount 30"),
        (lambda s: eb.blur_body_part(s["image"], s["parts"], body_part_ids_to_blur=[24]), "part ids are whole numbers"),
        (lambda s: eb.draw_pixelated_mask(s["image"], eb.to_mask(s["person"]), pixel_cell_width=0), "pixel_cell_width 0"),
        (lambda s: eb.to_mask(s["person"], foreground=(300, 0, 0)), "foreground must be"),
        (lambda s: eb.to_mask("mask"), "segmentation result"),
    ],
)
def test_bad_arguments_are_named(scene, call, message):
    with pytest.raises(InvalidParameterError, match=message):
        call(scene)


def test_draw_poses_marks_confident_keypoints_only(scene):
    image = scene["image"]
    poses = [p.pose for p in scene["people"]]
    drawn = eb.draw_poses(image, poses)
    changed = np.any(drawn != image, axis=2)
    assert 0.001 < changed.mean() < 0.1
    nose = poses[0].keypoints[0]
    x, y = int(round(nose.position[0])), int(round(nose.position[1]))
    if nose.score >= 0.3:
        assert changed[y, x]
    assert np.array_equal(eb.draw_poses(image, poses, min_part_confidence=1.01), image)


def test_canvas_blur_of_a_box_equals_the_blur_of_the_whole_image(scene):
    image = scene["image"]
    box = (100, 200, 300, 420)
    assert np.array_equal(canvas_blur(image, 3, box), canvas_blur(image, 3)[100:200, 300:420])
