"""The interface every frame source implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...errors import EdgeBodyPixError


class SourceError(EdgeBodyPixError):
    """A source cannot be opened (missing device, unreachable stream, missing library)."""


@dataclass
class Frame:
    """One captured frame: HxWx3 uint8 RGB, the capture time (time.monotonic) and a running index."""

    image: np.ndarray
    timestamp: float
    index: int


class FrameSource(abc.ABC):
    """Opened once, read until it returns None (ended or lost), then reopened by the service."""

    description: str = ""

    @property
    def finite(self) -> bool:
        """True for a file played once: its end is the end of the run, not a loss to recover from."""
        return False

    @abc.abstractmethod
    def open(self) -> None:
        """Open the device, file or stream; raise `SourceError` naming it when that fails."""

    @abc.abstractmethod
    def read(self) -> Optional[Frame]:
        """The next frame, or None when the source ended or was lost."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""
