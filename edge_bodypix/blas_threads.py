"""Keep numpy's BLAS from competing with the interpreter for the CPU cores.

Post-processing multiplies small matrices. A multi-threaded OpenBLAS runs
those on worker threads that then busy-wait, stealing the cores the TFLite
interpreter needs next: on a 2-core machine this doubled inference time
(3.5 ms against 1.8 ms for 241x321 inputs). One BLAS thread is the fastest
for matrices this small.
"""

from __future__ import annotations

import logging
from typing import Optional

log = logging.getLogger(__name__)
_applied: Optional[int] = None


def limit_blas_threads(threads: Optional[int]) -> bool:
    """Set the process-wide BLAS thread count (None: leave it alone). True when applied."""
    global _applied
    if threads is None or _applied == threads:
        return threads is not None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log.warning("threadpoolctl is not installed: cannot limit BLAS threads to %d", threads)
        return False
    threadpool_limits(limits=threads, user_api="blas")
    _applied = threads
    return True
