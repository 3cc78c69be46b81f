"""The `edge-bodypix` command: `segment` images and manage `models`."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import List, Optional

from .. import __version__
from ..native_log import quiet_native_libraries
from . import anonymize as anonymize_command
from . import bench as bench_command
from . import convert as convert_command
from . import models as models_command
from . import segment as segment_command
from . import serve as serve_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-bodypix",
        description="BodyPix 2.0 person and body-part segmentation on embedded hardware.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--version", action="version", version=f"edge-bodypix {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    segment_command.add_parser(commands)
    models_command.add_parser(commands)
    serve_command.add_parser(commands)
    anonymize_command.add_parser(commands)
    convert_command.add_parser(commands)
    bench_command.add_parser(commands)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_native_libraries(args.verbose)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="edge-bodypix: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args))
