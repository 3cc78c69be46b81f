"""Person and part segmentation of the shared photos with the default Coral model."""

import cv2
import numpy as np
import pytest

import edge_bodypix
from edge_bodypix import InvalidParameterError, PART_CHANNELS, PartSegmentation, PersonSegmentation

from conftest import PER_TENSOR_LANDSCAPE_MODEL, PER_TENSOR_MODEL, PHOTOS, cell_px, outline_displacement, read_rgb

FACE = {PART_CHANNELS.index("left_face"), PART_CHANNELS.index("right_face")}
TORSO = {PART_CHANNELS.index("torso_front"), PART_CHANNELS.index("torso_back")}
LOWER_BODY = {i for i, name in enumerate(PART_CHANNELS) if "leg" in name or "feet" in name}


def test_default_model_comes_from_the_store_with_body_pix_defaults(net):
    assert net.info.name == "bodypix_mobilenet_v1_075_720_1280_16_quant"
    assert (net.info.architecture, net.info.multiplier, net.info.output_stride) == ("MobileNetV1", 0.75, 16)
    assert net.info.normalisation == "mobilenet"


@pytest.mark.parametrize("name, low, high", [("one", 0.2, 0.5), ("two", 0.15, 0.45), ("five", 0.35, 0.7)])
def test_person_masks_cover_a_plausible_share_of_each_photo(net, photos, name, low, high):
    result = net.segment_person(photos[name])
    assert isinstance(result, PersonSegmentation)
    assert (result.width, result.height) == (1440, 1080)
    assert result.data.shape == (1080, 1440) and result.data.dtype == np.uint8
    assert set(np.unique(result.data)) == {0, 1}
    assert low < result.person_fraction < high
    assert result.all_poses and all(len(pose.keypoints) == 17 for pose in result.all_poses)


def test_the_five_people_stand_side_by_side_across_the_photo(net, photos):
    mask = net.segment_person(photos["five"]).data
    columns_with_people = mask[:700].mean(axis=0) > 0.2  # upper body rows
    # five bodies: runs of person columns separated by gaps between the people
    runs = np.flatnonzero(np.diff(columns_with_people.astype(int)) == 1).size + int(columns_with_people[0])
    assert 3 <= runs <= 7
    assert columns_with_people[:300].any() and columns_with_people[-300:].any()


def test_background_corners_of_the_selfie_are_not_person(net, photos):
    mask = net.segment_person(photos["one"]).data
    assert mask[:100, :100].mean() < 0.05 and mask[:100, -100:].mean() < 0.05


@pytest.mark.parametrize("name", ["one", "two", "five"])
def test_parts_sit_where_bodies_have_them(net, photos, name):
    result = net.segment_person_parts(photos[name])
    assert isinstance(result, PartSegmentation)
    parts = result.data
    assert parts.dtype == np.int32 and parts.shape == (1080, 1440)
    assert parts.min() >= -1 and parts.max() <= 23
    rows = np.arange(parts.shape[0])[:, None].repeat(parts.shape[1], 1)
    face_rows = rows[np.isin(parts, list(FACE))]
    torso_rows = rows[np.isin(parts, list(TORSO))]
    assert face_rows.size > 2000 and torso_rows.size > 20000
    assert np.median(face_rows) < np.median(torso_rows)  # faces above torsos
    lower = rows[np.isin(parts, list(LOWER_BODY))]
    if lower.size > 5000:
        assert np.median(lower) > np.median(torso_rows)  # legs below torsos


def test_part_map_covers_exactly_the_person_mask(net, photos):
    image = photos["two"]
    mask = net.segment_person(image).data
    parts = net.segment_person_parts(image).data
    assert np.array_equal(parts >= 0, mask == 1)


@pytest.mark.parametrize("name, resolution, threshold", [("one", "medium", 0.7), ("five", "low", 0.7),
                                                        ("two", "high", 0.3), ("five", "medium", 0.2)])
def test_exact_part_labels_where_a_person_pixel_can_read_them_give_the_whole_exact_map(
        net, photos, name, resolution, threshold):
    """Cells with several candidates are interpolated only next to person points (`labelled_cells`); doing
    it everywhere in the person box gives the same map."""
    from edge_bodypix.adapters.segmentation import grid_box, part_map, person_grid, person_mask

    inference = net.infer(photos[name], resolution, net.person_roles(parts=True))
    segments, logits = inference.outputs["segments"][:, :, 0], inference.outputs["part_heatmaps"]
    maps = inference.plan.maps
    mask = person_mask(segments, maps, threshold)
    person = person_grid(segments, threshold)
    ours = part_map(logits, mask, maps, person)
    # the same box of cells, every cell in it exact
    box = np.zeros_like(person)
    (r0, r1), (c0, c1) = grid_box(person)
    box[r0:r1 + 1, c0:c1 + 1] = True
    assert (person != box).any()  # the box holds cells the person grid leaves out
    assert np.array_equal(ours, part_map(logits, mask, maps, box))


@pytest.mark.parametrize("resolution", ["low", "medium", "high", "full", 0.35, 1.3])
def test_every_internal_resolution_gives_a_consistent_mask(net, photos, resolution):
    # BodyPix is scale-sensitive (people fill more of its receptive field at high
    # resolutions), so masks differ between resolutions; the selfie stays stable.
    # Each resolution places the outline on its own output grid, so the two outlines
    # may part by up to half a grid cell of the coarser input (measured: <= 14 px of
    # the 16-65 px bound on OpenCV 4.5.5-5.1).
    image = photos["one"]
    reference = net.segment_person(image, internal_resolution="medium").data
    mask = net.segment_person(image, internal_resolution=resolution).data
    assert mask.shape == reference.shape
    coarser = min(net.input_size_for(image.shape[:2], r) for r in ("medium", resolution))
    assert outline_displacement(reference, mask) <= cell_px(image.shape, coarser, net.output_stride) / 2
    for name in ("two", "five"):
        assert 0.15 < net.segment_person(photos[name], internal_resolution=resolution).person_fraction < 0.6


def test_resolution_sets_the_model_input_size(net, photos):
    assert net.input_size_for((1080, 1440), "medium") == (529, 721)
    assert net.input_size_for((1080, 1440), "low") == (257, 353)
    net.segment_person(photos["one"], internal_resolution="low")
    assert net.backend.input_size == (257, 353)


def test_camera_frames_and_odd_sizes_work(net, frames, photos):
    frame_mask = net.segment_person(frames["five"]).data
    assert frame_mask.shape == (480, 640)
    odd = np.ascontiguousarray(photos["five"][17:1017, 33:811])  # 1000x778, needs padding
    odd_mask = net.segment_person(odd).data
    assert odd_mask.shape == (1000, 778)
    full = net.segment_person(photos["five"]).data[17:1017, 33:811]
    # the crop shifts the scene against the output grid: outlines part by at most half a cell
    half_cell = cell_px(odd.shape, net.input_size_for(odd.shape[:2], "medium"), net.output_stride) / 2
    assert outline_displacement(full, odd_mask) <= half_cell


def test_flip_horizontal_mirrors_masks_and_parts(net, photos):
    image = photos["one"]
    assert np.array_equal(net.segment_person(image, flip_horizontal=True).data,
                          net.segment_person(image).data[:, ::-1])
    assert np.array_equal(net.segment_person_parts(image, flip_horizontal=True).data,
                          net.segment_person_parts(image).data[:, ::-1])


def test_threshold_controls_the_mask_size(net, photos):
    loose = net.segment_person(photos["two"], segmentation_threshold=0.3).data.sum()
    default = net.segment_person(photos["two"]).data.sum()
    strict = net.segment_person(photos["two"], segmentation_threshold=0.95).data.sum()
    assert loose > default > strict > 0


def test_rgba_input_gives_the_same_mask(net, frames):
    rgb = frames["one"]
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(net.segment_person(rgba).data, net.segment_person(rgb).data)


def test_results_do_not_share_buffers_between_calls(net, frames):
    first = net.segment_person(frames["one"])
    kept = first.data.copy()
    net.segment_person(frames["five"])
    assert np.array_equal(first.data, kept)


def test_timings_are_recorded(net, frames):
    net.segment_person_parts(frames["two"])
    t = net.last_timings
    assert t.preprocess_ms > 0 and t.inference_ms > 0 and t.postprocess_ms > 0
    assert t.total_ms == pytest.approx(t.preprocess_ms + t.inference_ms + t.postprocess_ms)


def test_per_tensor_quantisation_loses_accuracy_but_still_finds_the_people(photos):
    # Google's per-tensor variant quantises depthwise weights coarsely; it must
    # still find the same people, with rougher edges than the per-channel model.
    # still find the same people, with rougher edges than the per-channel model:
    # outlines within one output-stride cell of each other (measured 9-19 px of 32).
    per_channel = edge_bodypix.load()
    per_tensor = edge_bodypix.load(model=str(PER_TENSOR_MODEL))
    for image in photos.values():
        cell = cell_px(image.shape, per_channel.input_size_for(image.shape[:2], "medium"), per_channel.output_stride)
        assert outline_displacement(per_channel.segment_person(image).data, per_tensor.segment_person(image).data) <= cell


def test_same_weights_built_for_another_input_shape_give_the_same_masks(photos):
    portrait = edge_bodypix.load(model=str(PER_TENSOR_MODEL))
    landscape = edge_bodypix.load(model=str(PER_TENSOR_LANDSCAPE_MODEL))
    for image in photos.values():
        # The same float weights, but each build calibrated its own activation scales
        # (segments: 0.0900 vs 0.0915 per step), so logits differ by about one
        # quantisation step. That moves the outline by less than one model-input pixel;
        # measured: 1 image px on every photo with OpenCV 4.5.5 and 5.1, where a fixed
        # IoU bound (0.995) was crossed by OpenCV 5.1's resize alone.
        input_pixel = cell_px(image.shape, portrait.input_size_for(image.shape[:2], "medium"))
        assert outline_displacement(portrait.segment_person(image).data, landscape.segment_person(image).data) \
            <= input_pixel


def test_load_by_configuration_and_by_name():
    by_config = edge_bodypix.load(architecture="MobileNetV1", output_stride=16, multiplier=0.75, quant_bytes=1)
    assert by_config.info.name == "bodypix_mobilenet_v1_075_720_1280_16_quant"
    by_name = edge_bodypix.load(model="bodypix_mobilenet_v1_075_720_1280_16_per_tensor_quant")
    assert by_name.info.quantisation == "uint8 per-tensor"
    assert by_name.backend.path.endswith("coral/bodypix_mobilenet_v1_075_720_1280_16_per_tensor_quant.tflite")


def test_num_threads_reaches_the_interpreter():
    net = edge_bodypix.load(num_threads=1)
    assert "1 threads" in net.info.backend


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"segmentation_threshold": 1.5}, "segmentation_threshold 1.5"),
        ({"segmentation_threshold": "high"}, "segmentation_threshold must be a number"),
        ({"max_detections": 0}, "max_detections 0"),
        ({"max_detections": 2.5}, "max_detections 2.5"),
        ({"score_threshold": -0.1}, "score_threshold -0.1"),
        ({"nms_radius": 0}, "nms_radius 0"),
        ({"internal_resolution": "ultra"}, "internal_resolution 'ultra'"),
        ({"internal_resolution": 3}, "internal_resolution 3"),
    ],
)
def test_bad_parameters_are_rejected_with_their_name_and_value(net, frames, kwargs, message):
    for method in (net.segment_person, net.segment_person_parts):
        with pytest.raises(InvalidParameterError, match=message):
            method(frames["one"], **kwargs)


def test_bad_images_are_rejected(net):
    with pytest.raises(InvalidParameterError, match="uint8"):
        net.segment_person(np.zeros((480, 640, 3), np.float64))
    with pytest.raises(InvalidParameterError, match="numpy array"):
        net.segment_person("photo.jpg")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"architecture": "VGG"}, "architecture 'VGG'"),
        ({"multiplier": 0.6}, "multiplier 0.6"),
        ({"output_stride": 32}, "output_stride 32"),
        ({"quant_bytes": 3}, "quant_bytes 3"),
        ({"num_threads": 0}, "num_threads 0"),
    ],
)
def test_bad_load_arguments_are_rejected(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        edge_bodypix.load(**kwargs)


@pytest.mark.parametrize("side", [2, 5, 16, 31])
def test_tiny_images_get_a_named_error_not_an_exabyte_allocation(net, side):
    # 2-31 px sides used to ask numpy for 3.47 EiB (MemoryError)
    with pytest.raises(InvalidParameterError, match=f"image {side}x{side} at internal_resolution 'medium'.*at least 17"):
        net.segment_person(np.zeros((side, side, 3), np.uint8))
    if side > 16:  # at full resolution it is big enough
        assert net.segment_person(np.zeros((side, side, 3), np.uint8), internal_resolution="full").data.shape == (side, side)


def test_a_12_mp_photo_gives_the_mask_of_the_same_scene_at_1440_px(net):
    photo = read_rgb(PHOTOS["two"])  # at 2001x1489 (uncapped) the mask fell from 30% to 20% person
    phone = cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    expected = net.segment_person(photo).data.mean()
    assert abs(net.segment_person(phone).data.mean() - expected) < 0.01
    assert net.segment_person(phone, internal_resolution=0.5).data.mean() < expected - 0.05
