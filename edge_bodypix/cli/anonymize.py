"""`edge-bodypix anonymize INPUT... --output-dir DIR`: protect recorded videos and photos (see `batch`)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..backends.registry import backend_names
from ..errors import EdgeBodyPixError
from ..privacy.effects import PRIVACY_EFFECTS
from .common import exit_code, fail, internal_resolution_arg, positive_int_arg

RAY_LOCAL = "local"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "anonymize", help="protect people in recorded videos and photos (one box, or a Ray cluster)",
        description="Write each input with people protected into --output-dir, mirroring the input tree: "
        "the same container, codec family, size, frame rate, frame count and timestamps, audio copied "
        "unchanged. A chunk that cannot be protected is written black and reported (exit 1).",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video files, photos, folders or globs")
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR", help="where the outputs go")
    parser.add_argument("--effect", choices=list(PRIVACY_EFFECTS), default="blur-faces",
                        help="what to protect and how (default blur-faces)")
    parser.add_argument("--model", default="", help="catalogue name or model path (default: the catalogue default)")
    parser.add_argument("--models-dir", action="append", default=[], metavar="DIR",
                        help="extra directory to search for models")
    parser.add_argument("--backend", choices=backend_names(), default="tflite", help="inference library")
    parser.add_argument("--internal-resolution", type=internal_resolution_arg, default="medium")
    parser.add_argument("--workers", type=positive_int_arg, default=os.cpu_count() or 1,
                        help="worker processes (or Ray actors), one interpreter thread each (default: cores)")
    parser.add_argument("--ray", nargs="?", const=RAY_LOCAL, default=None, metavar="ADDRESS",
                        help="run on Ray: alone, a local Ray; with an address (host:port), that cluster")
    parser.add_argument("--resume", action="store_true", help="finish the job recorded in --output-dir")
    parser.add_argument("--chunk-seconds", type=float, default=10.0, help="video per chunk of work (default 10)")
    parser.add_argument("--overlap", type=int, default=8,
                        help="frames before each chunk the temporal guard warms up on (default 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


class Progress:
    """Frames done of the total, fps and ETA: a tqdm bar on a terminal, a line every 10 s in pipes and logs."""

    def __init__(self, total: int, files: int, enabled: bool = True):
        self.total, self.files, self.done, self.started, self.last = total, files, 0, time.monotonic(), 0.0
        self.bar = None
        self.enabled = enabled and total > 0
        if self.enabled and sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="frame", desc=f"{files} files", file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                pass

    def __call__(self, frames: int) -> None:
        self.done += frames
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(frames)
            return
        now = time.monotonic()
        if now - self.last >= 10 or self.done >= self.total:
            self.last = now
            elapsed = now - self.started
            fps = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / fps if fps > 0 else float("nan")
            print(f"anonymize: {self.done}/{self.total} frames of {self.files} files, {fps:.1f} frames/s, "
                  f"ETA {eta:.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _table(reports) -> str:
    lines = [f"{'file':40} {'frames':>7} {'persons':>7} {'fully protected':>15} {'fail-safe':>9} {'time s':>7}"]
    for r in reports:
        note = " (done earlier)" if r.skipped else ""
        lines.append(f"{Path(r.output).name[:40]:40} {r.frames:7d} {r.persons_seen:7d} {r.frames_fully_protected:15d} "
                     f"{r.fail_safe_frames:9d} {r.seconds:7.1f}{note}")
        lines += [f"  error: {error}" for error in r.errors]
    return "\n".join(lines)


def run(args) -> int:
    from ..batch.job import Job, expand_inputs, write_report
    from ..batch.pools import LocalPool, RayPool
    from ..batch.worker import Settings

    started = time.monotonic()
    pool = progress = None
    try:
        settings = Settings(effect=args.effect, model=args.model, backend=args.backend,
                            internal_resolution=args.internal_resolution, chunk_seconds=args.chunk_seconds,
                            overlap=args.overlap, models_dir=tuple(args.models_dir))
        settings.daemon_config()  # a wrong option is refused here, before any worker starts
        items = expand_inputs(args.inputs)
        pool_factory = (lambda: RayPool(settings, args.workers, None if args.ray == RAY_LOCAL else args.ray)) \
            if args.ray is not None else (lambda: LocalPool(settings, args.workers))
        job = Job(items, args.output_dir, settings, resume=args.resume)
        progress = job.progress = Progress(job.plan(), len(items), enabled=not args.no_progress)
        pool = pool_factory()  # after planning: a bad input is refused before any worker starts
        reports = job.run(pool)
    except KeyboardInterrupt:
        print("edge-bodypix: interrupted; finished chunks are kept: run the same command with --resume",
              file=sys.stderr)
        return 130
    except EdgeBodyPixError as exc:
        return fail(exc, exit_code(exc))
    finally:
        if progress is not None:
            progress.close()
        if pool is not None:
            pool.close()
    report = write_report(args.output_dir, reports, settings, time.monotonic() - started)
    print(_table(reports))
    fail_safe = sum(r.fail_safe_frames for r in reports)
    print(f"report: {report}" + (f"; {fail_safe} frames written fail-safe (black)" if fail_safe else ""))
    return 1 if fail_safe else 0

