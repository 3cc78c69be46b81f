"""The camera daemon (`edge-bodypix serve`): frames in, privacy-protected frames out, fail closed.

One package per concern: `sources/` (cameras, files, streams), `outputs/`
(HTTP stream and endpoints, recordings, events), `config.py`, `metrics.py`,
`systemd.py` (notify and watchdog) and `service.py` (the loop tying them).
"""
