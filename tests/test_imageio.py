"""Image files are read whole or refused by name: a truncated JPEG is not a photo with a grey lower half."""

import cv2
import numpy as np
import pytest

from conftest import PHOTOS
from edge_bodypix import InvalidParameterError
from edge_bodypix.imageio import jpeg_is_complete, read_rgb


def test_whole_photos_are_complete_and_read_as_rgb():
    for path in PHOTOS.values():
        assert jpeg_is_complete(path.read_bytes())
        image = read_rgb(path)
        assert image.dtype == np.uint8 and image.shape[2] == 3
        assert np.array_equal(image, cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.99])
def test_a_truncated_jpeg_is_refused_naming_the_file(tmp_path, fraction):
    data = PHOTOS["one"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[:int(len(data) * fraction)])
    assert cv2.imread(str(cut)) is not None  # OpenCV decodes it without an error: the reason for the check
    with pytest.raises(InvalidParameterError, match=r"cut.jpg: the JPEG is truncated"):
        read_rgb(cut)
    assert read_rgb(cut, allow_truncated=True).shape == (1080, 1440, 3)


def test_an_exif_thumbnail_and_trailing_bytes_do_not_fool_the_check(tmp_path):
    photo = cv2.imread(str(PHOTOS["one"]))
    thumbnail = cv2.imencode(".jpg", cv2.resize(photo, (160, 120)))[1].tobytes()
    main = cv2.imencode(".jpg", photo)[1].tobytes()
    app1 = b"Exif\x00\x00" + thumbnail  # a thumbnail JPEG (with its own scan and end marker) inside APP1
    with_thumbnail = main[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + main[2:]
    assert cv2.imdecode(np.frombuffer(with_thumbnail, np.uint8), cv2.IMREAD_COLOR) is not None
    assert jpeg_is_complete(with_thumbnail)
    assert jpeg_is_complete(main + b"\x00" * 100 + b"appended video bytes")
    # cut inside the main scan: the thumbnail's end marker must not count
    assert not jpeg_is_complete(with_thumbnail[:len(with_thumbnail) - len(main) // 2])


def test_a_directory_and_a_missing_file_are_named(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"is a directory, not an image file"):
        read_rgb(tmp_path)
    with pytest.raises(InvalidParameterError, match=r"missing.png: no such file"):
        read_rgb(tmp_path / "missing.png")
