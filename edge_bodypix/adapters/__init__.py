"""Pure functions over arrays: geometry, pre-processing and post-processing (no I/O, no interpreter)."""
