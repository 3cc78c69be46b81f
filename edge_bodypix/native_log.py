"""What native libraries print to the process's stderr, routed into Python logging.

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight
to file descriptor 2 on every model load, and no environment variable turns it
off. `native_stderr_to_log` captures fd 2 for the duration of a block and logs
each line instead: known chatter at DEBUG (seen with `-v`), anything else at
WARNING, so real problems still show.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger("edge_bodypix.native")
CHATTER = re.compile(
    r"^(INFO: Created TensorFlow Lite .*delegate|INFO: Initialized TensorFlow Lite runtime"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"  # absl's first line
    r"|I\d{4} \d\d:\d\d:\d+\.\d+ )"  # absl INFO lines (TensorFlow's oneDNN notice, ...)
)


@contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Capture fd 2 in the block (process-wide: for model loading, not for long sections) and log it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters): nothing to capture
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines():
                if line.strip():
                    log.log(logging.DEBUG if CHATTER.match(line) else logging.WARNING, "%s", line)


def quiet_native_libraries(verbose: bool = False) -> None:
    """Turn down the native libraries' own logging for a command-line run (left alone with `verbose`).

    OpenCV's warnings and FFmpeg's (a stream that refuses a connection prints a
    line per attempt) go to ERROR / quiet; TensorFlow's C++ logs (converters,
    `bench`) to errors only. Settings the user made in the environment win.
    """
    if verbose:
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg first opens something
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cv2_logging = getattr(getattr(sys.modules.get("cv2"), "utils", None), "logging", None)
    if cv2_logging is not None and os.environ["OPENCV_LOG_LEVEL"] == "ERROR":
        cv2_logging.setLogLevel(cv2_logging.LOG_LEVEL_ERROR)
