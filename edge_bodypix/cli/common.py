"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Union

from ..adapters.geometry import INTERNAL_RESOLUTIONS, internal_resolution_fraction
from ..errors import EdgeBodyPixError, InvalidParameterError


def internal_resolution_arg(text: str) -> Union[str, float]:
    """argparse type for --internal-resolution: a name or a number in [0.1, 2.0]."""
    value: Union[str, float] = text
    if text not in INTERNAL_RESOLUTIONS:
        value = _parse(text, float, f"one of {', '.join(INTERNAL_RESOLUTIONS)} or a number")
    try:
        internal_resolution_fraction(value)
    except InvalidParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _parse(text: str, kind: type, description: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {description}") from None


def unit_interval_arg(text: str) -> float:
    """argparse type for a number in [0, 1]."""
    value = _parse(text, float, "a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside [0, 1]")
    return value


def positive_int_arg(text: str) -> int:
    """argparse type for a whole number >= 1."""
    value = _parse(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def exit_code(error: BaseException) -> int:
    """The one convention of every command: 2 when the request itself is wrong (an option, a
    config key, a model name or path that does not exist), 1 when a valid request failed while
    running (a damaged model, an unreadable image, a camera or port that cannot be used)."""
    from ..daemon.config import ConfigError
    from ..errors import InvalidParameterError, ModelNotFoundError

    return 2 if isinstance(error, (InvalidParameterError, ModelNotFoundError, ConfigError)) else 1


#: Library parameters that errors name in Python syntax (backend='onnxruntime'), and their flags.
FLAGS = {"backend": "--backend", "model": "--model", "internal_resolution": "--internal-resolution",
         "num_threads": "--threads", "models_dir": "--models-dir", "segmentation_threshold": "--threshold"}
_PYTHON_HINT = re.compile(r"\b(" + "|".join(FLAGS) + r")=(['\"]?)([^'\",;)\s]+)\2")


def as_flags(message: str) -> str:
    """A library message with its `name='value'` hints written as the command's flags (`--name value`)."""
    return _PYTHON_HINT.sub(lambda m: f"{FLAGS[m.group(1)]} {m.group(3)}", message)


def fail(error: Union[EdgeBodyPixError, str], code: int = 2) -> int:
    """Print an error line to stderr (hints as flags) and return the exit code."""
    print(f"edge-bodypix: error: {as_flags(str(error))}", file=sys.stderr)
    return code
