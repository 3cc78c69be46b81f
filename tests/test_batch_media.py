"""How the batch job turns decoded video into RGB and back: cheap where it can be, faithful where it must be."""

import numpy as np
import pytest

from conftest import SHARED

av = pytest.importorskip("av")

from edge_bodypix.batch.media import Encoder, decode, probe, read_packets, to_rgb  # noqa: E402

WALKING = SHARED / "videos" / "one-by-one-person-detection.mp4"


def first_frame():
    with av.open(str(WALKING)) as container:
        return next(container.decode(video=0))


def test_studio_range_4_2_0_frames_convert_with_opencv_as_swscale_does_give_or_take_rounding():
    frame = first_frame()
    assert frame.format.name == "yuv420p"
    ours, theirs = to_rgb(frame).astype(int), frame.to_ndarray(format="rgb24").astype(int)
    assert ours.shape == theirs.shape == (frame.height, frame.width, 3)
    difference = np.abs(ours - theirs)
    # measured: mean 1.0, 99th percentile 2 (swscale interpolates chroma at edges, OpenCV repeats it)
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 3


def test_untouched_pixels_come_back_through_the_encoders_conversion():
    """`Encoder.prepare` converts RGB to I420 with OpenCV's BT.601; decoding back with the same matrix returns the
    pixels an effect did not touch closer than swscale does (measured mean 0.35 against 1.14 levels)."""
    rgb = first_frame().to_ndarray(format="rgb24")
    spec = probe(str(WALKING)).encoder_spec()
    frame = av.VideoFrame.from_numpy_buffer(Encoder(spec).prepare(rgb), format="yuv420p")
    ours = np.abs(to_rgb(frame).astype(int) - rgb).mean()
    swscale = np.abs(frame.to_ndarray(format="rgb24").astype(int) - rgb).mean()
    assert ours < 0.5 and ours < swscale


def test_full_range_odd_sized_and_other_formats_go_through_swscale():
    frame = first_frame()
    frame.color_range = 2  # JPEG (full) range: OpenCV's I420 conversion assumes studio range
    assert np.array_equal(to_rgb(frame), frame.to_ndarray(format="rgb24"))
    odd = av.VideoFrame.from_ndarray(np.full((5, 7, 3), 200, np.uint8), format="rgb24").reformat(format="yuv420p")
    assert np.array_equal(to_rgb(odd), odd.to_ndarray(format="rgb24"))
    planar = av.VideoFrame.from_ndarray(np.full((4, 6, 3), 90, np.uint8), format="rgb24").reformat(format="yuv444p")
    assert np.array_equal(to_rgb(planar), planar.to_ndarray(format="rgb24"))


def test_frames_before_the_warm_up_are_decoded_for_the_next_ones_but_not_converted():
    info = probe(str(WALKING))
    packets = read_packets(info, 20, 35)  # from the keyframe at frame 20
    wanted = set(info.frame_pts[27:35])
    frames = list(decode(info.codec, info.extradata, info.time_base, packets, lambda pts: pts in wanted))
    assert [pts for pts, _ in frames][:15] == list(info.frame_pts[20:35])
    converted = {pts for pts, image in frames if image is not None}
    assert converted == wanted
    every = dict(decode(info.codec, info.extradata, info.time_base, packets))
    for pts, image in frames:
        if image is not None:
            assert np.array_equal(image, every[pts])  # the same pictures as decoding everything
