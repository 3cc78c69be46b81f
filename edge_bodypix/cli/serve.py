"""`edge-bodypix serve`: the privacy-protecting camera daemon."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict

from ..errors import EdgeBodyPixError
from ..backends.registry import backend_names
from .common import exit_code, fail, positive_int_arg


def add_parser(commands) -> None:
    from ..daemon.config import DEFAULT_CONFIG_PATH
    from ..privacy.effects import PRIVACY_EFFECTS

    parser = commands.add_parser(
        "serve", help="run the camera daemon (protected MJPEG stream, snapshots, metrics)",
        description="Read frames from a camera, file or stream, protect them and publish them. "
        f"Settings come from {DEFAULT_CONFIG_PATH} (when present) or --config; flags override them.",
    )
    parser.add_argument("--config", metavar="PATH", help=f"TOML configuration (default {DEFAULT_CONFIG_PATH})")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the configuration, the model, the source and the unit's address list, then exit")
    parser.add_argument("--systemd-dropin", action="store_true",
                        help="print the unit drop-in for service.ip_address_allow and exit (systemd/install.sh uses it)")
    parser.add_argument("--source", metavar="PATH_OR_DEVICE_OR_URL", help="/dev/video0, picamera2, a file or a URL")
    parser.add_argument("--loop", action="store_true", default=None,
                        help="restart file sources at their end (without it a file is processed once, then exit 0)")
    parser.add_argument("--as-fast-as-possible", dest="realtime", action="store_false", default=None,
                        help="read files as fast as they can be processed instead of at their own frame rate")
    parser.add_argument("--model", metavar="NAME|PATH", help="catalogue name or .tflite path")
    parser.add_argument("--effect", choices=sorted(PRIVACY_EFFECTS), help="privacy effect")
    parser.add_argument("--backend", choices=backend_names(), help="inference library")
    parser.add_argument("--http", metavar="HOST:PORT", help="HTTP address ('' to disable)")
    parser.add_argument("--token", help="token required by HTTP clients")
    parser.add_argument("--rtsp", metavar="HOST:PORT[/PATH]",
                        help="publish H.264 over RTSP, e.g. 127.0.0.1:8554/protected ('' to disable)")
    parser.add_argument("--mqtt", metavar="HOST[:PORT]", help="publish state to this MQTT broker (Home Assistant discovery)")
    parser.add_argument("--threads", type=positive_int_arg, metavar="N", help="interpreter threads")
    parser.add_argument("--state-dir", metavar="DIR", help="state directory (recordings, events)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(handler=run)


def overrides(args) -> Dict[str, Dict[str, Any]]:
    """Command-line flags as a config fragment."""
    mapping = {
        ("source", "uri"): args.source, ("source", "loop"): args.loop,
        ("source", "realtime"): args.realtime, ("model", "name"): args.model,
        ("privacy", "effect"): args.effect, ("model", "backend"): args.backend,
        ("http", "listen"): args.http, ("http", "token"): args.token,
        ("model", "threads"): args.threads, ("service", "state_directory"): args.state_dir,
        ("service", "max_frames"): args.max_frames, ("service", "log_level"): args.log_level,
    }
    if args.rtsp is not None:
        from ..daemon.config import split_rtsp_url

        mapping[("rtsp", "listen")], path = split_rtsp_url(args.rtsp)
        mapping[("rtsp", "path")] = path if args.rtsp else None
    if args.mqtt is not None:
        host, colon, port = args.mqtt.rpartition(":") if ":" in args.mqtt else (args.mqtt, "", "")
        mapping[("mqtt", "host")] = host.strip("[]")
        if colon:
            mapping[("mqtt", "port")] = int(port) if port.isdigit() else port  # a non-number is named by the check
    result: Dict[str, Dict[str, Any]] = {}
    for (section, key), value in mapping.items():
        if value is not None:
            result.setdefault(section, {})[key] = value
    return result


def run(args) -> int:
    from ..daemon.config import ConfigError, load_config
    from ..daemon.service import Service

    try:
        config = load_config(args.config, overrides(args))
    except ConfigError as exc:
        return fail(exc)
    if args.systemd_dropin:
        from ..daemon.network import dropin

        print(dropin(config, args.config or ""), end="")
        return 0
    if args.check_config:
        from ..daemon.preflight import preflight

        report = preflight(config)
        for note in report.notes:
            print(note)
        for warning in report.warnings:
            print(f"edge-bodypix: warning: {warning}", file=sys.stderr)
        for error in report.errors[:-1]:
            fail(error)
        if not report.ok:
            return fail(report.errors[-1])
        print("configuration ok")
        return 0
    if os.environ.get("INVOCATION_ID"):  # started by systemd: the unit's address list applies
        from ..daemon.network import blocked

        problems = blocked(config)
        if problems:
            return fail(ConfigError("; ".join(problems)))
    logging.getLogger().setLevel(config.service.log_level.upper())
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    try:
        service = Service(config)
        return service.run()
    except EdgeBodyPixError as exc:
        return fail(exc, exit_code(exc))
