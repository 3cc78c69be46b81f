"""The benchmark suite behind `edge-bodypix bench` (installed as `edge_bodypix.benchsuite`).

`device` describes the machine, `matrix` finds the models and resolutions to
measure, `timing` measures latency interleaved within one run, `accuracy`
scores masks and keypoints against human ground truth, `report` writes
results.json, results.csv and report.md with plots, and `compare` puts two
result files side by side.
"""
