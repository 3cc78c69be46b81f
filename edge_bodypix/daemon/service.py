"""The daemon loop: read a frame, segment it, protect it, hand it to the outputs. Fail closed.

No frame leaves without protection: a failed inference, a mask older than
`model.max_mask_age_s`, a corrupt frame or a failing effect all yield a fully
protected (black) frame, counted in the metrics and logged, and the loop goes
on. A source that vanishes is reopened with exponential backoff.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import List, Optional

import numpy as np

from .. import __version__
from ..pipelining import FrameRunner
from .config import Config, public_view, read_secret, split_listen
from .metrics import Metrics
from .outputs import EventsOutput, HttpOutput, MqttOutput, Output, ProcessedFrame, RecorderOutput, RtspOutput
from .processor import Processor, StartedFrame
from .selftest import SelfTestSchedule
from .sources import FrameSource, SourceError, make_source
from .systemd import Notifier

log = logging.getLogger("edge_bodypix.daemon")
STATUS_INTERVAL_S = 5.0
NO_SOURCE_FRAME_S = 1.0  # while no frame comes, publish a black frame this often
REOPEN_FIRST_S = 0.25  # first wait before reopening a source that failed or stayed silent


def pipelined(config: Config) -> bool:
    """Whether inference overlaps post-processing: `model.pipeline`, and a second core to overlap on."""
    return config.model.pipeline and (os.cpu_count() or 1) > 1


def load_network(config: Config):
    """The model of `model.*` with the device policy of `loader.load_on_device` (Edge TPU twin, CPU fallback)."""
    from ..loader import load_on_device

    model = config.model
    cores = os.cpu_count() or 1
    threads = model.threads or (cores - 1 if pipelined(config) else cores)
    return load_on_device(model.device, model.name or None, model.edgetpu_required, num_threads=threads,
                          backend=model.backend, verify=model.verify, require_checksum=model.verify,
                          onnx_cache_dir=os.path.join(config.service.state_directory, "tensorrt-cache"))


class Service:
    """Runs source -> processor -> outputs until stopped (SIGTERM / SIGINT) or `service.max_frames`."""

    def __init__(self, config: Config, net=None, source: Optional[FrameSource] = None,
                 outputs: Optional[List[Output]] = None, notifier: Optional[Notifier] = None):
        self.config = config
        self.stop_event = threading.Event()
        self.net = net if net is not None else load_network(config)
        self.metrics = Metrics({"model": self.net.info.name, "backend": self.net.info.backend,
                                "effect": config.privacy.effect})
        self.runner = FrameRunner(self.net, threaded=pipelined(config))
        self.source = source if source is not None else make_source(config.source)
        self.outputs = outputs if outputs is not None else self._default_outputs()
        self.notifier = notifier if notifier is not None else Notifier()
        self.selftest = SelfTestSchedule(self.runner, config, self.metrics, self.notifier.status)
        self.processor = Processor(self.runner, config, self.metrics, self.selftest)
        self.frames = 0
        self._last_persons = 0
        self.started = time.monotonic()
        self._ready, self._last_status, self._window_frames = False, self.started, 0  # systemd notifications

    def _default_outputs(self) -> List[Output]:
        c = self.config
        outputs: List[Output] = []
        if c.http.listen:
            host, port = split_listen(c.http.listen)
            outputs.append(HttpOutput(host, port, c.http.token, self.metrics, self.health,
                                      stale_after_s=max(5.0, 10.0 / c.source.fps), status=self.status))
        if c.rtsp.listen:
            host, port = split_listen(c.rtsp.listen, "rtsp.listen")
            password = read_secret(c.rtsp.password_file, "rtsp.password_file") if c.rtsp.password_file else ""
            outputs.append(RtspOutput(host, port, c.rtsp.path, c.rtsp.username, password, c.rtsp.encoder,
                                      c.rtsp.bitrate_kbps, c.rtsp.keyframe_interval_s,
                                      frame_rate=lambda: self.source.frame_rate or c.source.fps,
                                      frame_size=self._frame_size))
        if c.mqtt.host:
            m = c.mqtt
            password = read_secret(m.password_file, "mqtt.password_file") if m.password_file else ""
            outputs.append(MqttOutput(m.host, m.port, m.username, password, m.tls, m.ca_file, m.topic_prefix,
                                      m.device_id, m.discovery_prefix, m.presence_hold_s, m.interval_s,
                                      self.metrics, self.net.info.name))
        state = c.service.state_directory
        if c.record.enabled:
            directory = os.path.join(state, c.record.directory)
            outputs.append(RecorderOutput(directory, c.source.fps, c.record.segment_seconds,
                                          int(c.record.max_total_mb * 1e6), c.record.codec))
        if c.events.path:
            path = c.events.path if c.events.path == "-" else os.path.join(state, c.events.path)
            outputs.append(EventsOutput(path, c.events.interval_s))
        return outputs

    def health(self) -> dict:
        return {"frames": self.frames, "model": self.net.info.name,
                "fully_protected": int(self.metrics.counter("frames_fully_protected")),
                "selftest": "passed" if self.selftest.ok else "failed" if self.selftest.last else "pending"}

    def _frame_size(self):
        """(height, width) of the frames going out: the source's once one came, else the configured size."""
        return tuple(self.processor.frame_shape or (self.config.source.height, self.config.source.width))

    def status(self) -> dict:
        """Everything the status page shows (`/status.json`): live figures, errors, the configuration in effect."""
        now, wall = time.monotonic(), time.time()
        counters = self.metrics.counters_named("errors")
        inference = self.metrics.mean("inference")
        return {
            "uptime_s": round(now - self.started, 1), "frames": self.frames,
            "persons": self._last_persons, "fps": self.metrics.gauge("fps", 0.0),
            "inference_ms": round(self.metrics.gauge("inference_last_s", 0.0) * 1e3, 2),
            "inference_mean_ms": None if inference is None else round(inference * 1e3, 2),
            "model": self.net.info.name, "backend": self.net.info.backend,
            "accelerator": self.net.backend.accelerator,
            "effect": self.config.privacy.effect, "source": self.source.description,
            "fail_safe_frames": int(self.metrics.counter("frames_fully_protected")),
            "selftest": self.health()["selftest"],
            "errors": {labels.get("kind", ""): int(value) for labels, value in counters},
            "recent_errors": [{"time": e.time, "kind": e.kind, "message": e.message}
                              for e in self.metrics.recent_errors(since=wall - 3600)][-100:],
            "time": wall, "config": public_view(self.config), "version": __version__,
        }

    def stop(self, *_args) -> None:
        self.stop_event.set()

    def _source_waiting(self) -> bool:
        """While no frame comes (a stalled read, a reopen backoff): ping the watchdog, publish a black
        "no source" frame once a second, and say whether to keep waiting (False once stopped)."""
        self.notifier.watchdog()
        if self.stop_event.is_set():
            return False
        now = time.monotonic()
        if now - self._last_output >= NO_SOURCE_FRAME_S:
            shape = self.processor.frame_shape or (self.config.source.height, self.config.source.width)
            self._emit(ProcessedFrame(np.zeros(tuple(shape) + (3,), np.uint8), now, self.frames, -1, True,
                                      self.config.http.jpeg_quality))
            self.metrics.inc("frames_no_source")
            self.notifier.status(f"no source: waiting for {self.source.description}")
            self._last_output = now
        return True

    def _wait(self, seconds: float) -> None:
        """Sleep up to `seconds` (until stopped), pinging the watchdog at least once a second."""
        deadline = time.monotonic() + seconds
        while not self.stop_event.is_set():
            self._source_waiting()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop_event.wait(min(left, 1.0))

    def _back_off(self) -> None:
        """Double the wait before the next reopen, from REOPEN_FIRST_S up to source.reopen_max_s."""
        self._reopen_delay = min(max(self._reopen_delay * 2, REOPEN_FIRST_S), self.config.source.reopen_max_s)
        self.metrics.set("source_reopen_delay_s", self._reopen_delay)

    def _open_source(self) -> bool:
        """Open (or reopen) the source, backing off exponentially; False if stopped meanwhile.

        The backoff carries over reopens that yield no frame (a zeroed file, a stream
        that accepts and sends nothing) and resets only when a frame arrives, so such
        a source cannot spin the loop; each state change is logged once.
        """
        if self._reopen_delay:
            self.metrics.inc("source_reopens")
            self._wait(self._reopen_delay)
        while not self.stop_event.is_set():
            try:
                self.source.open()
                if self._source_state != "silent":
                    log.info("source %s open", self.source.description)
                    self._source_state = "open"
                self._back_off()  # armed for a source that opens but sends nothing; a frame disarms it
                return True
            except SourceError as exc:
                self.metrics.error("source", str(exc))
                if self._source_state != "failing":
                    log.error("%s; retrying with backoff up to %.0f s", exc, self.config.source.reopen_max_s)
                    self.notifier.status(f"waiting for source: {exc}")
                self._source_state = "failing"
                self._back_off()
                self._wait(self._reopen_delay)
        return False

    def _emit(self, frame: ProcessedFrame) -> None:
        for output in self.outputs:
            try:
                output.write(frame)
            except Exception as exc:  # noqa: BLE001 - one failing output must not stop the others
                message = f"{type(output).__name__} failed: {exc}"
                self.metrics.error(f"output_{type(output).__name__}", message)
                log.error("%s", message)
        self.metrics.inc("frames_out")

    def _complete(self, pending: StartedFrame) -> ProcessedFrame:
        """Finish, emit and account for one frame; tell systemd (READY once, WATCHDOG, STATUS with fps)."""
        processed = self.processor.finish(pending)
        if processed.persons >= 0:
            self._last_persons = processed.persons
        self._emit(processed)
        now = time.monotonic()
        self.metrics.observe("end_to_end", now - pending.frame.timestamp)
        self.frames += 1
        self._last_output = now
        self._window_frames += 1
        self.selftest.poll()
        self.notifier.watchdog()
        if not self._ready:
            self._ready = True
            self.notifier.ready(f"processing {self.source.description}")
            log.info("first frame processed; ready")
        if now - self._last_status >= STATUS_INTERVAL_S:
            fps = self._window_frames / (now - self._last_status)
            self.metrics.set("fps", round(fps, 2))
            self.notifier.status(f"{fps:.1f} fps, {processed.persons} persons")
            self._last_status, self._window_frames = now, 0
        return processed

    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        for output in self.outputs:
            output.start()
        self._ready, self._last_status, self._window_frames = False, time.monotonic(), 0
        self._reopen_delay, self._source_state = 0.0, "closed"
        self._last_output = time.monotonic()
        if hasattr(self.source, "set_waiting_hook"):
            self.source.set_waiting_hook(self._source_waiting)
        read_count = 0
        max_frames = self.config.service.max_frames
        try:
            self.selftest.run_now()  # before any frame: frames stay black until it passes
            if not self._open_source():
                return 0
            pending: Optional[StartedFrame] = None  # the frame whose inference overlaps this one's reading
            while not self.stop_event.is_set():
                if pending is not None and not getattr(self.source, "frame_ready", lambda: True)():
                    self._complete(pending)  # the next frame is not there yet: do not hold this one for it
                    pending = None
                frame = self.source.read()
                if frame is None:
                    if pending is not None:
                        self._complete(pending)
                        pending = None
                    if getattr(self.source, "finite", False):
                        log.info("source %s ended", self.source.description)
                        break
                    self.metrics.error("source_lost", f"source {self.source.description} ended or was lost")
                    if self._source_state == "streaming":
                        log.warning("source %s ended or was lost; reopening", self.source.description)
                        self._source_state = "lost"
                    elif self._source_state != "silent":
                        log.warning("source %s opened but delivered no frame; reopening with backoff up to %.0f s",
                                    self.source.description, self.config.source.reopen_max_s)
                        self._source_state = "silent"
                    self.source.close()
                    if not self._open_source():
                        break
                    continue
                self.metrics.inc("frames_in")
                self._reopen_delay = 0.0  # a frame arrived: the next loss reopens at once
                if self._source_state == "silent":
                    log.info("source %s delivering frames", self.source.description)
                self._source_state = "streaming"
                read_count += 1
                dropped = getattr(self.source, "dropped", 0)
                if dropped != self.metrics.counter("frames_dropped"):
                    self.metrics.inc("frames_dropped", dropped - self.metrics.counter("frames_dropped"))
                started = self.processor.start(frame)  # with a pipeline, inference runs from here...
                if pending is not None:
                    self._complete(pending)  # ...while the previous frame finishes
                if not self.runner.threaded:
                    self._complete(started)
                else:
                    pending = started
                if max_frames and read_count >= max_frames:
                    break
            if pending is not None:  # never drop the last frame: finish and emit it
                self._complete(pending)
        finally:
            self.notifier.stopping()
            self.source.close()
            for output in self.outputs:
                try:
                    output.stop()
                except Exception as exc:  # noqa: BLE001 - keep shutting down
                    log.error("stopping %s failed: %s", type(output).__name__, exc)
            self.notifier.close()
            self.runner.close()
            log.info("stopped after %d frames", self.frames)
        return 0
