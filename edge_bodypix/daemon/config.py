"""Daemon configuration: TOML file plus command-line overrides, validated with errors naming the key."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from ..adapters.geometry import INTERNAL_RESOLUTIONS, internal_resolution_fraction
from ..errors import EdgeBodyPixError, InvalidParameterError
from ..backends.registry import backend_names
from ..loader import DEVICES
from ..options import SegmentationOptions
from ..privacy.effects import PRIVACY_EFFECTS, PrivacyEffect

DEFAULT_CONFIG_PATH = "/etc/edge-bodypix/config.toml"

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(EdgeBodyPixError):
    """A configuration key has a value outside what it allows."""


@dataclass(frozen=True)
class SourceConfig:
    uri: str = "/dev/video0"  # "/dev/videoN", "N", "picamera2", a file, or an rtsp:// / http:// URL
    loop: bool = False  # restart files at the end (tests, demos)
    width: int = 640
    height: int = 480
    fps: float = 15.0
    reopen_max_s: float = 30.0  # longest wait between attempts to reopen a vanished source
    realtime: bool = True  # files play at their own frame rate; false = as fast as possible


@dataclass(frozen=True)
class ModelConfig:
    name: str = ""  # catalogue name or .tflite path; "" = the catalogue default
    backend: str = "tflite"  # "tflite", "onnxruntime" or "auto"
    device: str = "auto"  # auto: Edge TPU model if the name says so and a TPU is there, else CPU
    edgetpu_required: bool = False  # refuse to start instead of falling back to the CPU twin
    threads: int = 0  # interpreter threads; 0 = all cores (one less when pipelining)
    pipeline: bool = True  # infer the next frame on a worker thread while this one is post-processed (2+ cores)
    internal_resolution: Any = "medium"
    segmentation_threshold: float = 0.7
    infer_every: int = 1  # run the network on every Nth frame; the others reuse its mask
    max_mask_age_s: float = 0.5  # older masks protect the whole frame
    verify: bool = True  # refuse a model whose sha256 is unknown or differs from the catalogue / its .meta.json

    def options(self) -> SegmentationOptions:
        """The library's segmentation parameters from this section (checked by `SegmentationOptions`)."""
        return SegmentationOptions(internal_resolution=self.internal_resolution,
                                   segmentation_threshold=self.segmentation_threshold)


@dataclass(frozen=True)
class PrivacyConfig:
    effect: str = "blur-faces"
    strength: float = 0.0  # blur sigma / pixel cell in pixels; 0 = scaled to the frame
    margin_px: float = -1.0  # safety margin; -1 = 1% of the frame's larger side
    hold_frames: int = 10  # keep regions protected this many frames after they vanish
    selftest_interval_s: float = 600.0  # rerun the network self-test this often; 0 = at start only
    protect_entering: bool = True  # protect what moves at the frame's border before it is segmented

    def protection(self) -> PrivacyEffect:
        """What `effect` protects and how (`privacy.effects`; validation has checked the name)."""
        return PRIVACY_EFFECTS[self.effect]


@dataclass(frozen=True)
class HttpConfig:
    listen: str = "127.0.0.1:8080"  # "" disables the server
    token: str = ""  # required when listening beyond loopback
    jpeg_quality: int = 80


@dataclass(frozen=True)
class RtspConfig:
    listen: str = ""  # "HOST:PORT" publishes H.264 over RTSP ("" = off); beyond loopback needs credentials
    path: str = "/protected"  # rtsp://HOST:PORT/protected
    username: str = ""  # RTSP digest authentication: required beyond loopback
    password_file: str = ""  # a file holding the password, kept out of this config (mode 0600)
    encoder: str = "auto"  # auto: the hardware H.264 encoder when present, else x264; or v4l2h264enc, x264enc, openh264enc
    bitrate_kbps: int = 0  # 0 = scaled to the frame size and rate
    keyframe_interval_s: float = 1.0  # a client that connects waits at most this long for its first picture


@dataclass(frozen=True)
class MqttConfig:
    host: str = ""  # the broker ("" = off)
    port: int = 1883  # 8883 with TLS
    tls: bool = False
    ca_file: str = ""  # with tls: the CA that signed the broker's certificate ("" = the system's)
    username: str = ""
    password_file: str = ""  # a file holding the password, kept out of this config (mode 0600)
    topic_prefix: str = "edge-bodypix"  # state under PREFIX/<device_id>/...
    device_id: str = ""  # "" = this machine's host name
    discovery_prefix: str = "homeassistant"  # Home Assistant MQTT discovery ("" = no discovery messages)
    presence_hold_s: float = 10.0  # "person present" stays on this long after the last person left
    interval_s: float = 5.0  # fps and counters are republished this often


@dataclass(frozen=True)
class RecordConfig:
    enabled: bool = False
    directory: str = "recordings"  # relative to service.state_directory
    segment_seconds: float = 300.0
    max_total_mb: float = 1024.0
    codec: str = "mp4v"


@dataclass(frozen=True)
class EventsConfig:
    path: str = ""  # JSON lines; "-" = stdout, "" = off; relative paths under service.state_directory
    interval_s: float = 5.0


@dataclass(frozen=True)
class ServiceConfig:
    state_directory: str = "/var/lib/edge-bodypix"
    log_level: str = "info"
    max_frames: int = 0  # stop after this many frames (benchmarks, tests); 0 = run forever
    # systemd's IPAddressAllow= for the unit (daemon/network.py): cameras and clients beyond these are blocked
    ip_address_allow: str = "localhost"


@dataclass(frozen=True)
class Config:
    source: SourceConfig = field(default_factory=SourceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    rtsp: RtspConfig = field(default_factory=RtspConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)


def _convert(key: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if key == "model.internal_resolution":
        if isinstance(value, str) and value not in INTERNAL_RESOLUTIONS:
            raise ConfigError(f"{key} = {value!r}: allowed values are {', '.join(INTERNAL_RESOLUTIONS)} "
                              "or a number in [0.1, 2.0]")
        try:
            internal_resolution_fraction(value)
        except InvalidParameterError as exc:
            raise ConfigError(f"{key} = {value!r}: {exc}") from None
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r}: allowed values are true or false")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{key} = {value!r}: must be a number")
        if kind is int and value != int(value):
            raise ConfigError(f"{key} = {value!r}: must be a whole number")
        return kind(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key} = {value!r}: must be a string")
    return value


def merge(config: Config, data: Mapping[str, Any], origin: str = "config") -> Config:
    """A new config with `data` ({section: {key: value}}) applied; unknown keys are errors."""
    sections = {f.name: f for f in fields(Config)}
    updated = {}
    for section, values in data.items():
        if section not in sections:
            raise ConfigError(f"{origin}: unknown section [{section}]; sections are {', '.join(sections)}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys")
        current = getattr(config, section)
        keys = {f.name: f for f in fields(current)}
        changes = {}
        for key, value in values.items():
            if key not in keys:
                raise ConfigError(f"{origin}: unknown key {section}.{key}; keys are {', '.join(keys)}")
            changes[key] = _convert(f"{section}.{key}", value, getattr(current, key))
        updated[section] = replace(current, **changes)
    return validate(replace(config, **updated))


def is_loopback(host: str) -> bool:
    """A listen host that only this machine can reach ("", localhost, 127.0.0.0/8, ::1)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_listen(listen: str, key: str = "http.listen", example: str = "127.0.0.1:8080") -> Tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key} = {listen!r}: use HOST:PORT, e.g. {example}")
    return host.strip("[]"), int(port)


def split_rtsp_url(value: str) -> Tuple[str, str]:
    """`--rtsp HOST:PORT/PATH` as (rtsp.listen, rtsp.path); the path defaults to /protected."""
    listen, slash, path = value.partition("/")
    return listen, ("/" + path) if slash and path else RtspConfig.path


def read_secret(path: str, key: str) -> str:
    """The first line of a secret file (a password), or a `ConfigError` naming the key and the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            secret = handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{key} = {path!r}: cannot read the password ({exc.strerror or exc})") from None
    if not secret:
        raise ConfigError(f"{key} = {path!r}: the file's first line is empty (it must hold the password)")
    return secret


def public_view(config: Config) -> Dict[str, Dict[str, Any]]:
    """The configuration in effect, for people (the status page): secrets shown only as set or not."""
    view: Dict[str, Dict[str, Any]] = {}
    for section in fields(Config):
        values = {}
        for item in fields(getattr(config, section.name)):
            value = getattr(getattr(config, section.name), item.name)
            if f"{section.name}.{item.name}" == "http.token":
                value = "(set)" if value else ""
            values[item.name] = value
        view[section.name] = values
    return view


def validate(config: Config) -> Config:
    """Check values that types alone do not; raise `ConfigError` naming the key and what is allowed."""
    def check(condition: bool, message: str) -> None:
        if not condition:
            raise ConfigError(message)

    s, m, p, h, r, e, v = (config.source, config.model, config.privacy, config.http, config.record,
                           config.events, config.service)
    rtsp, mqtt = config.rtsp, config.mqtt
    check(bool(s.uri), "source.uri is empty: give a device (/dev/video0), picamera2, a file or a URL")
    check(s.width > 0 and s.height > 0, f"source.width/height = {s.width}x{s.height}: must be positive")
    check(s.fps > 0, f"source.fps = {s.fps}: must be > 0")
    check(s.reopen_max_s > 0, f"source.reopen_max_s = {s.reopen_max_s}: must be > 0")
    check(m.backend in backend_names(), f"model.backend = {m.backend!r}: allowed values are {', '.join(backend_names())}")
    check(m.device in DEVICES, f"model.device = {m.device!r}: allowed values are {', '.join(DEVICES)}")
    check(m.threads >= 0, f"model.threads = {m.threads}: must be >= 0 (0 = all cores)")
    try:  # the library's own checks, with the key named (the daemon runs what the library accepts)
        m.options()
    except InvalidParameterError as exc:
        raise ConfigError(f"[model] {exc}") from None
    check(m.infer_every >= 1, f"model.infer_every = {m.infer_every}: must be >= 1")
    check(m.max_mask_age_s > 0, f"model.max_mask_age_s = {m.max_mask_age_s}: must be > 0")
    check(p.effect in PRIVACY_EFFECTS,
          f"privacy.effect = {p.effect!r}: allowed values are {', '.join(PRIVACY_EFFECTS)}")
    check(0 <= p.strength <= 500, f"privacy.strength = {p.strength}: must be in [0, 500] (0 = automatic)")
    check(p.margin_px == -1 or p.margin_px >= 0, f"privacy.margin_px = {p.margin_px}: must be >= 0 or -1 (automatic)")
    check(p.hold_frames >= 0, f"privacy.hold_frames = {p.hold_frames}: must be >= 0")
    check(p.selftest_interval_s >= 0,
          f"privacy.selftest_interval_s = {p.selftest_interval_s}: must be >= 0 (0 = only at start)")
    if h.listen:
        host, _ = split_listen(h.listen)
        check(is_loopback(host) or bool(h.token),
              f"http.listen = {h.listen!r} reaches beyond this machine: set http.token")
    check(all(33 <= ord(c) <= 126 and c not in ';,"\\' for c in h.token),
          "http.token: use printable ASCII without spaces, quotes, commas, semicolons or backslashes "
          "(it travels in URLs and cookies), e.g. the output of: openssl rand -hex 24")
    check(1 <= h.jpeg_quality <= 100, f"http.jpeg_quality = {h.jpeg_quality}: must be in [1, 100]")
    if rtsp.listen:
        host, _ = split_listen(rtsp.listen, "rtsp.listen", "127.0.0.1:8554")
        check(is_loopback(host) or bool(rtsp.username and rtsp.password_file),
              f"rtsp.listen = {rtsp.listen!r} reaches beyond this machine: set rtsp.username and rtsp.password_file")
        check(rtsp.path.startswith("/") and len(rtsp.path) > 1 and " " not in rtsp.path,
              f"rtsp.path = {rtsp.path!r}: must be a path such as /protected")
    check(bool(rtsp.username) == bool(rtsp.password_file),
          "rtsp.username and rtsp.password_file go together: set both or neither")
    from .outputs.h264 import ENCODER_CHOICES  # noqa: PLC0415 - the encoder table lives with the encoders

    check(rtsp.encoder in ENCODER_CHOICES,
          f"rtsp.encoder = {rtsp.encoder!r}: allowed values are {', '.join(ENCODER_CHOICES)}")
    check(0 <= rtsp.bitrate_kbps <= 100_000,
          f"rtsp.bitrate_kbps = {rtsp.bitrate_kbps}: must be in [0, 100000] (0 = automatic)")
    check(0.1 <= rtsp.keyframe_interval_s <= 60,
          f"rtsp.keyframe_interval_s = {rtsp.keyframe_interval_s}: must be in [0.1, 60]")
    if mqtt.host:
        check(1 <= mqtt.port <= 65535, f"mqtt.port = {mqtt.port}: must be in [1, 65535]")
        check(bool(mqtt.topic_prefix) and not any(c in mqtt.topic_prefix for c in "#+"),
              f"mqtt.topic_prefix = {mqtt.topic_prefix!r}: must be a topic without wildcards (# +)")
        check(not any(c in mqtt.device_id for c in "#+/ "),
              f"mqtt.device_id = {mqtt.device_id!r}: letters, digits, - and _ only")
        check(mqtt.presence_hold_s >= 0, f"mqtt.presence_hold_s = {mqtt.presence_hold_s}: must be >= 0")
        check(mqtt.interval_s > 0, f"mqtt.interval_s = {mqtt.interval_s}: must be > 0")
    check(not mqtt.password_file or bool(mqtt.username), "mqtt.password_file is set without mqtt.username")
    check(r.segment_seconds > 0, f"record.segment_seconds = {r.segment_seconds}: must be > 0")
    check(r.max_total_mb > 0, f"record.max_total_mb = {r.max_total_mb}: must be > 0")
    check(len(r.codec) == 4, f"record.codec = {r.codec!r}: must be a four-character code such as mp4v or MJPG")
    check(e.interval_s > 0, f"events.interval_s = {e.interval_s}: must be > 0")
    check(v.log_level in LOG_LEVELS, f"service.log_level = {v.log_level!r}: allowed values are {', '.join(LOG_LEVELS)}")
    check(v.max_frames >= 0, f"service.max_frames = {v.max_frames}: must be >= 0")
    from .network import parse_allow  # noqa: PLC0415 - network.py builds on this module

    parse_allow(v.ip_address_allow)
    return config


def load_toml(path: str) -> Dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover - Python 3.9/3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load_config(path: Optional[str] = None, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """The default config, then the file (if `path`, or the default path when it exists), then `overrides`."""
    config = Config()
    if path is None and os.path.exists(DEFAULT_CONFIG_PATH):
        path = DEFAULT_CONFIG_PATH
    if path:
        config = merge(config, load_toml(path), origin=path)
    if overrides:
        config = merge(config, overrides, origin="command line")
    return validate(config)
