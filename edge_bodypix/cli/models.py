"""`edge-bodypix models list|fetch|verify`: the catalogue and the models on this device."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import EdgeBodyPixError
from .common import fail


def add_parser(commands) -> None:
    parser = commands.add_parser("models", help="list, fetch and verify models",
                                 description="Manage BodyPix models in the model store.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", help="list catalogue models and where they are installed")
    listing.add_argument("--installed", action="store_true", help="only models found on this device")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    fetch = actions.add_parser("fetch", help="download models from their official locations")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="catalogue names (default: the default model)")
    fetch.add_argument("--dir", type=Path, help="target directory (default: $EDGE_BODYPIX_MODELS or the user cache)")
    fetch.add_argument("--force", action="store_true", help="download even when already installed")
    fetch.add_argument("--mirror", metavar="URL",
                       help="download from this server instead of the official addresses; it holds a model "
                            "directory's layout (URL/coral/..., URL/tfjs/bodypix/mobilenet/...)")
    fetch.set_defaults(handler=run_fetch)

    verify = actions.add_parser("verify", help="check installed models against the catalogue's sha256")
    verify.add_argument("names", nargs="*", metavar="NAME", help="catalogue names (default: all installed)")
    verify.set_defaults(handler=run_verify)


def run_list(args) -> int:
    from ..models import load_catalogue, locate, search_dirs

    rows = []
    for spec in load_catalogue():
        path = locate(spec)
        if args.installed and path is None:
            continue
        rows.append((spec, path))
    if args.json:
        print(json.dumps([
            {"name": s.name, "format": s.format, "architecture": s.architecture, "multiplier": s.multiplier,
             "output_stride": s.output_stride, "quantisation": s.quantisation, "runtime": s.runtime,
             "default": s.default, "url": s.url, "sha256": s.sha256, "installed": str(p) if p else None}
            for s, p in rows
        ], indent=1))
        return 0
    print(f"model directories: {', '.join(str(d) for d in search_dirs())}")
    print(f"{'name':58} {'arch':11} {'mult':>4} {'stride':>6} {'quant':18} {'runtime':16} installed")
    for spec, path in rows:
        mark = " (default)" if spec.default else ""
        print(f"{spec.name + mark:58} {spec.architecture:11} {spec.multiplier:4.2f} {spec.output_stride:6d} "
              f"{spec.quantisation:18} {spec.runtime:16} {path or '-'}")
    return 0


def run_fetch(args) -> int:
    from ..models import fetch, load_catalogue, verify

    catalogue = load_catalogue()
    try:
        specs = [catalogue.get(name) for name in args.names] if args.names else [catalogue.default()]
    except EdgeBodyPixError as exc:
        return fail(exc)
    status = 0
    for spec in specs:
        try:
            force = args.force
            if not force:
                found = verify(spec, [args.dir] if args.dir else None)
                if found.status == "mismatch":  # a damaged install is repaired, not reported as present
                    print(f"{spec.name}: {found.path} is damaged ({found.detail}); downloading it again",
                          file=sys.stderr)
                    force = True
            path = fetch(spec, args.dir, force=force, progress=sys.stderr, mirror=args.mirror)
            print(f"{spec.name}: {path}")
        except EdgeBodyPixError as exc:
            status = fail(exc, 1)
    return status


def run_verify(args) -> int:
    from ..models import load_catalogue, verify

    catalogue = load_catalogue()
    try:
        specs = [catalogue.get(name) for name in args.names] if args.names else list(catalogue)
    except EdgeBodyPixError as exc:
        return fail(exc)
    status = 0
    checked = 0
    for spec in specs:
        result = verify(spec)
        if result.status == "missing" and not args.names:
            continue
        checked += 1
        detail = f" ({result.detail})" if result.detail else ""
        where = f" {result.path}" if result.path else ""
        print(f"{spec.name}: {result.status}{where}{detail}")
        if result.status in ("mismatch", "missing"):
            status = 1
    if not checked:
        from ..models import search_dirs

        looked = ", ".join(str(d) for d in search_dirs())
        return fail(f"no catalogue model is installed (looked in {looked}); get the default with: "
                    f"edge-bodypix models fetch", 1)
    return status
