"""Outputs of protected frames: a small `Output` base with HTTP, recording and event concrete ones."""

from .base import Output, ProcessedFrame
from .events import EventsOutput
from .http import HttpOutput
from .memory import MemoryOutput
from .recorder import RecorderOutput

__all__ = ["Output", "ProcessedFrame", "HttpOutput", "RecorderOutput", "EventsOutput", "MemoryOutput"]
