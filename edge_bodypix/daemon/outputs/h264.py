"""Which H.264 encoder the RTSP output uses, and its GStreamer settings (pure: no GStreamer import here).

The Pi 4 (and older) has a hardware encoder behind V4L2 (`v4l2h264enc`, the
bcm2835-codec device); GStreamer registers that element only when the device
is there, so its presence is the test. The Pi 5 has none: x264 in software
(GStreamer's "ugly" plugins), or OpenH264 ("bad" plugins) where x264 is not
installed. Every choice is tuned for live viewing and recording: no B-frames,
a key frame at least every `keyframe_interval_s` (a client that connects, or
reconnects, waits at most that long for its first picture). The RTSP output
puts SPS/PPS before every key frame with `h264parse` (the payloader's own
insertion split x264's sliced key frames into two access units with one time
stamp, which FFmpeg decodes as two pictures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Tuple


@dataclass(frozen=True)
class Encoder:
    element: str  # the GStreamer element
    description: str  # for the log line
    hardware: bool
    chain: Callable[[int, int], str]  # (bitrate in kbit/s, key frame period in frames) -> launch fragment


ENCODERS: Tuple[Encoder, ...] = (
    Encoder("v4l2h264enc", "hardware H.264 (V4L2 encoder)", True,
            lambda kbps, period: ("v4l2h264enc extra-controls=\"controls,repeat_sequence_header=1,"
                                  f"video_bitrate={kbps * 1000},h264_i_frame_period={period}\" "
                                  "! video/x-h264,level=(string)4")),
    Encoder("x264enc", "software H.264 (x264)", False,
            lambda kbps, period: (f"x264enc tune=zerolatency speed-preset=veryfast bitrate={kbps} "
                                  f"key-int-max={period} bframes=0 ! video/x-h264,profile=main")),
    Encoder("openh264enc", "software H.264 (OpenH264)", False,
            lambda kbps, period: f"openh264enc bitrate={kbps * 1000} gop-size={period} complexity=low"),
)
ENCODER_CHOICES = ("auto",) + tuple(encoder.element for encoder in ENCODERS)
#: The other elements of the RTSP pipeline and the Debian / Pi OS package that has each.
PIPELINE_ELEMENTS = {"appsrc": "gstreamer1.0-plugins-base", "videoconvert": "gstreamer1.0-plugins-base",
                     "h264parse": "gstreamer1.0-plugins-bad", "rtph264pay": "gstreamer1.0-plugins-good"}


def missing_elements(present: Callable[[str], bool]) -> str:
    """"" when every pipeline element is installed, else what is missing and the packages to install."""
    missing = [name for name in PIPELINE_ELEMENTS if not present(name)]
    if not missing:
        return ""
    packages = sorted({PIPELINE_ELEMENTS[name] for name in missing})
    several = len(missing) > 1
    return (f"GStreamer element{'s' if several else ''} {', '.join(missing)} {'are' if several else 'is'} missing: "
            f"apt install {' '.join(packages)}")


def choose_encoder(choice: str, present: Callable[[str], bool]) -> Encoder:
    """The encoder for `rtsp.encoder` (`auto`: the first of ENCODERS that `present`); ValueError naming what is missing."""
    candidates = ENCODERS if choice == "auto" else tuple(e for e in ENCODERS if e.element == choice)
    for encoder in candidates:
        if present(encoder.element):
            return encoder
    wanted = ", ".join(e.element for e in candidates)
    raise ValueError(f"rtsp.encoder = {choice!r}: no H.264 encoder element is installed (looked for {wanted}); "
                     "apt install gstreamer1.0-plugins-ugly (x264enc) or gstreamer1.0-plugins-bad (openh264enc)")


def automatic_bitrate_kbps(width: int, height: int, fps: float) -> int:
    """About 0.1 bit per pixel per frame: 768x432 at 10 fps -> 500 kbit/s (the floor), 1080p at 30 fps -> 6.2 Mbit/s."""
    return int(min(max(width * height * fps * 0.1 / 1000, 500), 20_000))


def key_frame_period(fps: float, interval_s: float) -> int:
    return max(1, round(fps * interval_s))
