"""The protected stream as H.264 over RTSP, for NVRs (Frigate, go2rtc, Blue Iris, ffmpeg recorders).

GStreamer's RTSP server (gst-rtsp-server, through PyGObject) does the protocol:
RTSP over TCP with RTP over UDP or interleaved TCP, several clients sharing
one encoder, digest authentication. This module only feeds it: each
protected frame goes into an `appsrc`, time-stamped with its capture time, and
nothing else can reach the encoder, so a fail-safe (black) frame goes out
black and a raw frame never does. Without a client no media exists and a
frame costs nothing.
"""

from __future__ import annotations

import logging
import threading
from fractions import Fraction
from typing import Callable, Optional, Tuple

import cv2
import numpy as np

from .base import Output, OutputError, ProcessedFrame, host_port
from .h264 import automatic_bitrate_kbps, choose_encoder, key_frame_period, missing_elements

log = logging.getLogger(__name__)
ROLE = "viewer"
INSTALL_HINT = ("apt install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base "
                "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly (a virtualenv made with "
                "--system-site-packages sees Debian's python3-gi; or pip install 'edge-bodypix[rtsp]')")


def import_gstreamer():
    """(Gst, GstRtsp, GstRtspServer, GLib), initialised; `OutputError` with what to install when missing."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtsp", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
    except (ImportError, ValueError) as exc:
        raise OutputError(f"rtsp.listen is set, but GStreamer's RTSP server cannot be loaded ({exc}): "
                          f"{INSTALL_HINT}") from None
    Gst.init(None)
    return Gst, GstRtsp, GstRtspServer, GLib


def pipeline_encoder(Gst, choice: str):
    """The H.264 encoder for `rtsp.encoder`, once every other element of the pipeline is known to be
    installed; `OutputError` naming what is missing and the package that has it."""
    present = lambda name: Gst.ElementFactory.find(name) is not None  # noqa: E731
    missing = missing_elements(present)
    if missing:
        raise OutputError(f"rtsp.listen is set, but {missing}")
    try:
        return choose_encoder(choice, present)
    except ValueError as exc:
        raise OutputError(str(exc)) from None


class RtspOutput(Output):
    """`rtsp://host:port/path`: H.264 at the camera's frame rate and size, from protected frames only."""

    def __init__(self, host: str, port: int, path: str = "/protected", username: str = "", password: str = "",
                 encoder: str = "auto", bitrate_kbps: int = 0, keyframe_interval_s: float = 1.0,
                 frame_rate: Callable[[], float] = lambda: 15.0,
                 frame_size: Callable[[], Tuple[int, int]] = lambda: (480, 640)):
        self.host, self.port, self.path = host, port, path
        self.username, self.password = username, password
        self.encoder_choice, self.bitrate_kbps, self.keyframe_interval_s = encoder, bitrate_kbps, keyframe_interval_s
        self.frame_rate, self.frame_size = frame_rate, frame_size
        self.encoder = None
        self.bound_port = port
        self._lock = threading.Lock()
        self._appsrc = None
        self._stream_shape: Optional[Tuple[int, int]] = None  # (height, width) of the media being served
        self._origin: Optional[float] = None  # capture time of the media's first buffer
        self._last_pts = -1
        self._period_ns = 0
        self._resized_logged = False
        self._loop = self._thread = self._server = self._source = None

    @property
    def url(self) -> str:
        return f"rtsp://{host_port(self.host, self.bound_port)}{self.path}"

    def start(self) -> None:
        Gst, GstRtsp, GstRtspServer, GLib = import_gstreamer()
        self._Gst = Gst
        self.encoder = pipeline_encoder(Gst, self.encoder_choice)
        if self.encoder.hardware:
            log.info("RTSP: %s", self.encoder.description)
        else:
            log.info("RTSP: no hardware H.264 encoder here; %s", self.encoder.description)
        output = self

        class Factory(GstRtspServer.RTSPMediaFactory):
            def do_create_element(self, url):  # the launch line is built per media, for the size in effect
                return Gst.parse_launch(output._launch_line())

        server = GstRtspServer.RTSPServer()
        server.set_address(self.host)
        server.set_service(str(self.port))
        factory = Factory()
        factory.set_shared(True)  # one encoder, however many clients
        factory.set_latency(0)
        factory.connect("media-configure", self._media_configured)
        if self.username:
            self._protect(server, factory, GstRtsp, GstRtspServer)
        server.get_mount_points().add_factory(self.path, factory)
        server.connect("client-connected", self._client_connected)
        context = GLib.MainContext.new()
        try:
            self._source = server.create_source(None)
        except GLib.Error as exc:
            where = host_port(self.host, self.port)
            raise OutputError(f"rtsp.listen = {where!r}: cannot listen there ({exc.message})") from None
        self._source.attach(context)
        self.bound_port = server.get_bound_port()
        self._server, self._loop = server, GLib.MainLoop.new(context, False)
        self._thread = threading.Thread(target=self._loop.run, name="rtsp", daemon=True)
        self._thread.start()
        log.info("RTSP on %s (H.264, %s)", self.url, "authentication required" if self.username else "no authentication")

    def _protect(self, server, factory, GstRtsp, GstRtspServer) -> None:
        """Digest authentication for `username` (the password never crosses the network; FFmpeg, VLC,
        go2rtc/Frigate and Blue Iris all speak it); no authentication without a username."""
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        auth.add_digest(self.username, self.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role(ROLE, "media.factory.access", True)
        permissions.add_permission_for_role(ROLE, "media.factory.construct", True)
        factory.set_permissions(permissions)

    def _launch_line(self) -> str:
        height, width = self.frame_size()
        fps = max(float(self.frame_rate()), 1.0)
        numerator, denominator = _fraction(fps)
        kbps = self.bitrate_kbps or automatic_bitrate_kbps(width, height, fps)
        with self._lock:
            self._stream_shape = (height, width)
            self._period_ns = int(1e9 / fps)
        caps = f"video/x-raw,format=RGB,width={width},height={height},framerate={numerator}/{denominator}"
        chain = self.encoder.chain(kbps, key_frame_period(fps, self.keyframe_interval_s))
        return (f"( appsrc name=frames is-live=true format=time do-timestamp=false max-buffers=2 "
                f"leaky-type=downstream caps={caps} ! videoconvert ! video/x-raw,format=I420 ! {chain} "
                "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=0 )")

    def _media_configured(self, factory, media) -> None:
        appsrc = media.get_element().get_by_name("frames")
        with self._lock:
            self._appsrc, self._origin, self._last_pts = appsrc, None, -1
        media.connect("unprepared", self._media_gone)
        log.info("RTSP: media prepared for %s (%dx%d)", self.url, self._stream_shape[1], self._stream_shape[0])

    def _media_gone(self, media) -> None:
        with self._lock:
            self._appsrc = None
        log.info("RTSP: last client of %s left", self.url)

    def _client_connected(self, server, client) -> None:
        connection = client.get_connection()
        log.info("RTSP: client %s connected", connection.get_ip() if connection else "?")

    def write(self, frame: ProcessedFrame) -> None:
        with self._lock:
            appsrc, shape = self._appsrc, self._stream_shape
            if appsrc is None:
                return  # no client: nothing to encode
            if self._origin is None:
                self._origin = frame.timestamp
            pts = max(int((frame.timestamp - self._origin) * 1e9), self._last_pts + 1)
            self._last_pts = pts
        image = frame.image
        if image.shape[:2] != shape:  # the source changed size under a client: keep the stream's size
            if not self._resized_logged:
                log.warning("RTSP: frames are %dx%d, the stream %dx%d; resizing until clients reconnect",
                            image.shape[1], image.shape[0], shape[1], shape[0])
                self._resized_logged = True
            image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        buffer = self._Gst.Buffer.new_wrapped(np.ascontiguousarray(image).tobytes())
        buffer.pts = pts
        buffer.duration = self._period_ns
        appsrc.emit("push-buffer", buffer)

    def stop(self) -> None:
        with self._lock:
            appsrc, self._appsrc = self._appsrc, None
        if appsrc is not None:
            appsrc.emit("end-of-stream")
        if self._source is not None:
            self._source.destroy()
            self._source = None
        if self._loop is not None:
            self._loop.quit()
            self._thread.join(timeout=5)
            self._loop = None
        self._server = None


def _fraction(fps: float) -> Tuple[int, int]:
    """A frame rate as GStreamer's fraction: 10 -> 10/1, 12.5 -> 25/2, 29.97 -> 2997/100."""
    rate = Fraction(fps).limit_denominator(1001)
    return rate.numerator, rate.denominator
