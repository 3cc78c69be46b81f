"""Anonymize recorded footage: videos and photos protected chunk by chunk, on one machine or a Ray cluster.

`media` (PyAV: demux, decode, encode, mux), `chunks` (where a video is cut),
`worker` (protect one chunk with the daemon's processor), `pools` (local
processes or Ray actors), `manifest` (resume), `job` (the whole run).
"""
