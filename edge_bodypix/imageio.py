"""Reading image files as RGB arrays, refusing damaged ones by name.

OpenCV decodes a truncated JPEG without an error (libjpeg only prints "Premature
end of JPEG file" and fills the missing rows with grey), so a cut-off download
would be segmented as if it were whole, with a wrong mask. `jpeg_is_complete`
walks the JPEG's marker segments to the image's first scan and requires the
end-of-image marker after it (entropy-coded data cannot contain that marker, and
an EXIF thumbnail's own markers sit inside a skipped APP1 segment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import cv2
import numpy as np

from .errors import InvalidParameterError

PathLike = Union[str, Path]
_STANDALONE = {0x01} | set(range(0xD0, 0xD8))  # TEM and RSTn carry no length


def jpeg_is_complete(data: bytes) -> bool:
    """True when JPEG bytes hold their end-of-image marker after the first scan (not truncated)."""
    if data[:2] != b"\xff\xd8":
        return True  # not a JPEG: nothing to say
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return False  # a corrupt header
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker == 0xD9:
            return False  # end of image before any scan
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker == 0xDA:  # start of scan: the end-of-image marker must follow
            return data.find(b"\xff\xd9", i + 2 + length) >= 0
        i += 2 + length
    return False


def read_rgb(path: PathLike, allow_truncated: bool = False) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB, or `InvalidParameterError` naming the file and the problem."""
    path = Path(path)
    if path.is_dir():
        raise InvalidParameterError(f"{path}: is a directory, not an image file")
    if not path.is_file():
        raise InvalidParameterError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidParameterError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    # imread, not imdecode: for a cut-off progressive JPEG imdecode gives nothing, imread the decoded part
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InvalidParameterError(f"{path}: not a readable image")
    if not allow_truncated and not jpeg_is_complete(data):
        raise InvalidParameterError(f"{path}: the JPEG is truncated (no end-of-image marker; a cut-off download "
                                    "or copy?); its lower part would be grey. --allow-truncated segments it anyway")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
