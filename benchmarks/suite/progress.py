"""Progress on stderr: a tqdm bar on a terminal, one plain line per step in pipes and logs."""

from __future__ import annotations

import sys
import time
from typing import Iterator, Sequence, TypeVar

T = TypeVar("T")


def steps(items: Sequence[T], what: str, label=None, enabled: bool = True) -> Iterator[T]:
    """Yield `items`, showing `what` and the current item's `label(item)` as they go.

    A terminal gets a tqdm bar (when tqdm is installed: the `bench` extra);
    anything else (a pipe, a log, journald) gets a line per step with the
    elapsed time, so progress shows up at once and reads in order.
    """
    if not enabled:
        yield from items
        return
    total = len(items)
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(items, desc=what, total=total, file=sys.stderr, leave=True, dynamic_ncols=True)
            for item in bar:
                if label is not None:
                    bar.set_postfix_str(str(label(item)), refresh=False)
                yield item
            return
    started = time.monotonic()
    for number, item in enumerate(items, start=1):
        detail = f" ({label(item)})" if label is not None else ""
        print(f"bench: {what} {number}/{total}{detail}, {time.monotonic() - started:.0f} s",
              file=sys.stderr, flush=True)
        yield item


def note(text: str, enabled: bool = True) -> None:
    """A one-line status message (a phase starting) on stderr."""
    if enabled:
        print(f"bench: {text}", file=sys.stderr, flush=True)
