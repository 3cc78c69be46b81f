"""Outputs of protected frames: a small `Output` base with HTTP (stream, status page), RTSP, MQTT,
recording and event concrete ones."""

from .base import Output, OutputError, ProcessedFrame
from .events import EventsOutput
from .http import HttpOutput
from .memory import MemoryOutput
from .mqtt import MqttOutput
from .recorder import RecorderOutput
from .rtsp import RtspOutput

__all__ = ["Output", "OutputError", "ProcessedFrame", "HttpOutput", "RtspOutput", "MqttOutput", "RecorderOutput",
           "EventsOutput", "MemoryOutput"]
