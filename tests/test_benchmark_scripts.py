"""The benchmark scripts run (tiny settings) and print well-formed JSON: they must not rot."""

import json
import os
import subprocess
import sys

import pytest

from conftest import MODELS, ROOT

pytestmark = pytest.mark.slow


def run_benchmark(name, *args):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args, "--json"],
                            capture_output=True, text=True, env=os.environ, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_runtime_overhead_report():
    report = run_benchmark("runtime_overhead", "--rounds", "1")
    assert {(r["frames"], r["method"]) for r in report["rows"]} == {
        ("640x480", "segment_person"), ("640x480", "segment_person_parts"),
        ("full", "segment_person"), ("full", "segment_person_parts")}
    assert all(r["inference_ms"] > 0 and r["ratio"] > 0 for r in report["rows"])
    assert 0 < report["import_and_load_s"] < 30


def test_multi_person_overhead_report():
    report = run_benchmark("multi_person_overhead", "--rounds", "1")
    assert [r["people"] for r in report["rows"]][0] == 5
    assert all(r["decode_ratio"] > 0 for r in report["rows"])


def test_privacy_overhead_report():
    report = run_benchmark("privacy_overhead", "--rounds", "1")
    assert {(r["target"], r["method"]) for r in report["rows"]} >= {("faces", "blur"), ("persons", "pixelate")}


def test_daemon_throughput_report():
    report = run_benchmark("daemon_throughput", "--frames", "120", "--warmup", "40")
    # ratios are measurements for the report, not pass/fail: one noisy run must not fail CI
    assert report["frames"] == 120 and report["ratio"] > 0 and report["fps"] > 0
    assert report["rss_growth_mb"] == report["rss_growth_mb"]  # a number, not NaN
    assert report["peak_rss_mb"] >= report["rss_end_mb"] * 0.99  # the peak is at least what was resident
    assert report["all_cores_inference_ms_median"] > 0 and report["ratio_vs_all_cores"] > 0


def test_rtsp_latency_report():
    pytest.importorskip("av")
    pytest.importorskip("gi")
    report = run_benchmark("rtsp_latency", "--seconds", "2", "--warmup", "3", "--encoder", "x264enc")
    row = report["rows"][0]
    assert row["encoder"] == "x264enc" and row["frames"] >= 5
    # each latency is a sum of its parts, measured on one clock: the medians bracket the parts
    assert 0 < row["daemon_median_ms"] <= row["median_ms"] and 0 < row["stream_median_ms"] <= row["median_ms"]
    assert row["median_ms"] <= row["p90_ms"] <= row["max_ms"]


def test_backend_comparison_report():
    pytest.importorskip("onnxruntime")
    report = run_benchmark("backend_comparison", "--rounds", "1")
    backends = [r["backend"] for r in report["rows"]]
    assert any(name in b for b in backends for name in ("litert", "tflite"))
    assert any("onnxruntime" in b for b in backends)


def test_keypoint_accuracy_report():
    pytest.importorskip("pycocotools")
    report = run_benchmark("keypoint_accuracy", "--resolutions", "medium")
    row = report["rows"][0]
    assert report["images"] == 8 and 0.0 < row["AP"] <= 1.0


def test_arm_instructions_guest_half_marks_every_stage_the_table_needs():
    # the guest half runs natively too (the marks are lseek calls that fail harmlessly without the plugin)
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "arm_instructions.py"), "--guest"],
                            capture_output=True, text=True, env=os.environ, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    line = next(text for text in result.stdout.splitlines() if text.startswith("MARKS "))
    marks = json.loads(line[6:])
    assert all(len(pairs) == 2 and all(b == a + 1 for a, b in pairs) for pairs in marks.values())
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import arm_instructions

    # a plugin log as QEMU writes it: the running total at each mark (here 1000 instructions per mark)
    log = "\n".join(f"MARK {k} {1000 * k * (k % 2 + 1)}" for pairs in marks.values() for pair in pairs for k in pair)
    counts = {name: n for name, (n, _) in arm_instructions.stage_counts(marks, arm_instructions.parse_marks(log)).items()}
    rows = arm_instructions.table(counts)
    assert set(arm_instructions.TARGETS) <= set(rows)
    assert rows["inference 1440x1080 (medium)"]["ratio"] == 1.0


def test_arm_instructions_model_comparison_marks_pre_and_inference_of_each_model():
    model = str(MODELS / "coral" / "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "arm_instructions.py"), "--guest", "--models",
                             model], capture_output=True, text=True, env=os.environ, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    marks = json.loads(next(t for t in result.stdout.splitlines() if t.startswith("MARKS "))[6:])
    assert set(marks) == {f"{model} pre", f"{model} infer"} and all(len(pairs) == 2 for pairs in marks.values())


def test_the_bench_report_shows_the_guest_instruction_table_written_beside_it(tmp_path):
    import shutil

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import arm_instructions

    results = ROOT / "benchmarks" / "results"
    for name in ("results.json", "report.md"):
        shutil.copy(results / name, tmp_path / name)
    header = (tmp_path / "report.md").read_text().split("\n## Device\n")[0]
    committed = json.loads((results / "arm_instructions.json").read_text())
    arm_instructions.write(tmp_path, committed["results"], 0.004)
    report = (tmp_path / "report.md").read_text()
    assert report.startswith(header + "\n## Device\n")  # the hand-written header survives
    assert "## Guest instructions on the Pi's cores" in report and "repeat to 0.4%" in report
    a76 = next(r for r in committed["results"] if r["cpu"] == "cortex-a76")
    row = a76["table"]["anonymize(faces)"]
    assert "| anonymize(faces) | " in report and f"{row['instructions'] / 1e6:.1f} M | {row['ratio']:.3f} |" in report
    assert "<= 0.05 |" in report
    # written twice, the report holds the table once
    arm_instructions.write(tmp_path, committed["results"], 0.004)
    assert (tmp_path / "report.md").read_text().count("## Guest instructions") == 1
