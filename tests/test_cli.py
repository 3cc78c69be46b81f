"""`edge-bodypix` as a user runs it: the installed console script in a subprocess."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import PHOTOS, ROOT, SHARED

# the console script installed beside this interpreter (pip install -e .)
SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")


def run_cli(*args, cwd=None):
    assert os.path.isfile(SCRIPT), f"console script not installed at {SCRIPT}"
    command = [SCRIPT]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=os.environ, timeout=300)


def test_segment_writes_masks_and_parts_and_a_json_summary(tmp_path):
    result = run_cli("segment", *PHOTOS.values(), "--parts", "--json", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["model"] == "bodypix_mobilenet_v1_075_720_1280_16_quant"
    assert summary["failed"] == []
    assert len(summary["images"]) == 3
    for record in summary["images"]:
        assert record["input_size"] == [529, 721]
        assert set(record["timings_ms"]) == {"preprocess", "inference", "postprocess"}
        assert 0.1 < record["person_fraction"] < 0.7
        mask = cv2.imread(record["outputs"]["mask"], cv2.IMREAD_UNCHANGED)
        assert mask.shape == (1080, 1440) and set(np.unique(mask)) == {0, 255}
        assert abs((mask > 0).mean() - record["person_fraction"]) < 1e-6
        parts = cv2.imread(record["outputs"]["parts"], cv2.IMREAD_COLOR)
        assert parts.shape == (1080, 1440, 3)
        white = np.all(parts == 255, axis=2)
        assert np.array_equal(white, mask == 0)  # white exactly where there is no person


def test_unreadable_images_fail_alone_and_set_the_exit_code(tmp_path):
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("not a picture")
    result = run_cli("segment", tmp_path / "missing.jpg", not_image, PHOTOS["one"], "--json",
                     "--output-dir", tmp_path / "out")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert [r["image"] for r in summary["images"]] == [str(PHOTOS["one"])]
    errors = {f["image"]: f["error"] for f in summary["failed"]}
    assert "no such file" in errors[str(tmp_path / "missing.jpg")]
    assert "not a readable image" in errors[str(not_image)]
    assert "missing.jpg: no such file" in result.stderr
    assert (tmp_path / "out" / "pexels-karolina-grabowska-4378882.mask.png").is_file()


def test_human_readable_summary_and_options(tmp_path):
    result = run_cli("segment", PHOTOS["two"], "--threshold", "0.5", "--internal-resolution", "low",
                     "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "person" in result.stdout and "input 353x257" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threshold", "1.5"], "--threshold: 1.5 is outside [0, 1]"),
        (["--threshold", "abc"], "--threshold: 'abc' is not a number"),
        (["--internal-resolution", "huge"], "--internal-resolution: 'huge' is not one of"),
        (["--internal-resolution", "5"], "--internal-resolution: internal_resolution 5.0 is outside"),
        (["--model", "no_such_model"], "no model called 'no_such_model'"),
        (["--model", "/nowhere/model.tflite"], "model file /nowhere/model.tflite does not exist"),
    ],
)
def test_bad_options_exit_with_a_clear_message(tmp_path, args, message):
    result = run_cli("segment", PHOTOS["one"], *args, "--output-dir", tmp_path)
    assert result.returncode == 2
    assert message in result.stderr


def test_same_stem_images_do_not_overwrite_each_other(tmp_path):
    other = tmp_path / "copy"
    other.mkdir()
    shutil.copy(PHOTOS["one"], other / PHOTOS["one"].name)
    result = run_cli("segment", PHOTOS["one"], other / PHOTOS["one"].name, "--output-dir", tmp_path / "out")
    assert result.returncode == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["pexels-karolina-grabowska-4378882-2.mask.png", "pexels-karolina-grabowska-4378882.mask.png"]


def test_models_list_verify_and_fetch_commands():
    listing = run_cli("models", "list", "--installed", "--json")
    assert listing.returncode == 0
    installed = {m["name"]: m for m in json.loads(listing.stdout)}
    assert installed["bodypix_mobilenet_v1_075_720_1280_16_quant"]["default"] is True
    verify = run_cli("models", "verify")
    assert verify.returncode == 0
    assert "bodypix_mobilenet_v1_075_720_1280_16_quant: ok" in verify.stdout
    # already installed: fetch reports the path and touches no network
    fetch = run_cli("models", "fetch")
    assert fetch.returncode == 0 and "coral/bodypix_mobilenet_v1_075_720_1280_16_quant.tflite" in fetch.stdout
    converted = run_cli("models", "fetch", "bodypix_resnet50_16_float32")
    assert converted.returncode == 1 and "edge-bodypix convert" in converted.stderr


def test_runtime_never_imports_tensorflow():
    code = ("import sys, edge_bodypix; edge_bodypix.load(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_multi_person_masks_parts_and_poses(tmp_path):
    result = run_cli("segment", PHOTOS["five"], "--multi", "--parts", "--draw-poses", "--json", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["images"][0]
    assert len(record["people"]) == 5
    union = np.zeros((1080, 1440), bool)
    for person in record["people"]:
        assert person["pose"]["score"] >= 0.4 and len(person["pose"]["keypoints"]) == 17
        mask = cv2.imread(person["mask"], cv2.IMREAD_UNCHANGED) > 0
        assert not (union & mask).any()  # disjoint
        union |= mask
        parts = cv2.imread(person["parts"], cv2.IMREAD_COLOR)
        assert np.array_equal(~np.all(parts == 255, axis=2), mask)
    whole = cv2.imread(record["outputs"]["mask"], cv2.IMREAD_UNCHANGED) > 0
    assert np.array_equal(union, whole)
    assert "multi_person" in record["timings_ms"]
    drawn = cv2.imread(record["outputs"]["poses"], cv2.IMREAD_COLOR)
    original = cv2.imread(str(PHOTOS["five"]), cv2.IMREAD_COLOR)
    changed = np.any(drawn != original, axis=2).mean()
    assert 0.001 < changed < 0.1  # keypoints and bones, not a repaint
    assert len(record["poses"]) >= 5  # all poses of segment_person as well


def test_effects_are_written_next_to_the_masks(tmp_path):
    effects = ["mask", "parts", "pixelated", "bokeh", "blur-faces", "pixelate-persons", "fill-faces", "blur-background"]
    args = [arg for effect in effects for arg in ("--effect", effect)]
    result = run_cli("segment", PHOTOS["two"], *args, "--json", "--output-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)["images"][0]["outputs"]
    # no output overwrites another: the effects named "mask" and "parts" have files of their own
    assert len(set(outputs.values())) == len(outputs) == len(effects) + 1
    binary = cv2.imread(outputs["mask"], cv2.IMREAD_UNCHANGED)
    assert binary.ndim == 2 and set(np.unique(binary)) == {0, 255}
    original = cv2.imread(str(PHOTOS["two"]), cv2.IMREAD_COLOR)
    for effect in effects:
        written = cv2.imread(outputs[f"effect:{effect}"], cv2.IMREAD_COLOR)
        assert written.shape == original.shape
        assert not np.array_equal(written, original), effect
    bad = run_cli("segment", PHOTOS["two"], "--effect", "sepia", "--output-dir", tmp_path)
    assert bad.returncode == 2 and "invalid choice: 'sepia'" in bad.stderr


def test_segment_and_serve_name_the_privacy_effects_alike():
    from edge_bodypix.cli import build_parser
    from edge_bodypix.privacy.effects import PRIVACY_EFFECTS

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    choices = {name: next(a.choices for a in commands[name]._actions if "--effect" in a.option_strings)
               for name in ("segment", "serve")}
    assert set(PRIVACY_EFFECTS) <= set(choices["segment"]) and set(choices["serve"]) == set(PRIVACY_EFFECTS)


def test_version_is_printed():
    import edge_bodypix

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"edge-bodypix {edge_bodypix.__version__}"


def test_segment_and_serve_share_one_exit_code_convention(tmp_path):
    # 2: the request is wrong (no such model); 1: a valid request failed (a damaged model file)
    for command in (["segment", PHOTOS["one"], "--output-dir", tmp_path], ["serve", "--http", "",
                    "--source", PHOTOS["one"], "--state-dir", tmp_path / "state"]):
        missing = run_cli(*command, "--model", "/nowhere/model.tflite")
        assert missing.returncode == 2 and "does not exist" in missing.stderr, command
        damaged = tmp_path / "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"
        damaged.write_bytes(b"TFL3" * 1000)
        broken = run_cli(*command, "--model", damaged)
        assert broken.returncode == 1 and "does not match the catalogue" in broken.stderr, command
        assert "Traceback" not in missing.stderr + broken.stderr


@pytest.mark.parametrize("kind", ["truncated", "random"])
def test_a_damaged_onnx_model_is_an_error_line_not_a_traceback(tmp_path, kind):
    pytest.importorskip("onnx")
    source = (SHARED / "models" / "onnx").glob("*stride16*.onnx")
    data = next(source).read_bytes()[:3000] if kind == "truncated" else np.random.default_rng(1).bytes(3000)
    model = tmp_path / f"{kind}.onnx"
    model.write_bytes(data)
    for command in (["segment", PHOTOS["two"], "--output-dir", tmp_path],
                    ["serve", "--http", "", "--source", PHOTOS["two"], "--state-dir", tmp_path / "state"]):
        result = run_cli(*command, "--model", model, "--backend", "onnxruntime")
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        # serve refuses it one step earlier: a model with no known checksum is not trusted for privacy
        reason = "no checksum is known" if command[0] == "serve" else "not a readable ONNX model"
        assert f"{model}: {reason}" in result.stderr


def test_models_verify_with_nothing_installed_says_so_and_fails(tmp_path):
    empty = {**os.environ, "EDGE_BODYPIX_MODELS": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run([SCRIPT, "models", "verify"], capture_output=True, text=True, env=empty, timeout=60)
    assert result.returncode == 1 and "no catalogue model is installed" in result.stderr


def test_models_fetch_detects_a_damaged_install_and_keeps_it_until_a_good_copy_arrives(tmp_path):
    from test_model_integrity import corrupted_copy

    damaged = corrupted_copy(tmp_path / "coral")
    before = damaged.read_bytes()
    offline = {**os.environ, "EDGE_BODYPIX_MODELS": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
               "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    result = subprocess.run([SCRIPT, "models", "fetch", "--dir", str(tmp_path)], capture_output=True, text=True,
                            env=offline, timeout=120)
    assert f"{damaged} is damaged" in result.stderr and "downloading it again" in result.stderr
    assert result.returncode == 1  # no network here: the repair fails, and says so
    assert damaged.read_bytes() == before  # nothing half-written in its place


def test_a_truncated_jpeg_or_a_directory_fails_with_its_reason_unless_allowed(tmp_path):
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(PHOTOS["one"].read_bytes()[:120_000])
    result = run_cli("segment", cut, tmp_path, "--output-dir", tmp_path / "out")
    assert result.returncode == 1  # a valid request whose inputs failed
    assert f"{cut}: the JPEG is truncated" in result.stderr
    assert f"{tmp_path}: is a directory, not an image file" in result.stderr
    assert not (tmp_path / "out" / "cut.mask.png").exists()
    allowed = run_cli("segment", cut, "--allow-truncated", "--output-dir", tmp_path / "out")
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "out" / "cut.mask.png").is_file()


def test_a_run_is_quiet_and_each_error_is_one_line_naming_its_file(tmp_path):
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    result = run_cli("segment", PHOTOS["one"], tiny, "--output-dir", tmp_path)
    assert result.returncode == 1
    # nothing from LiteRT ("Created TensorFlow Lite XNNPACK delegate"), one line for the one error
    assert result.stderr.splitlines() == [f"edge-bodypix: error: {tiny}: image is too small: 1x1 pixels"]
    assert f"{tiny}: failed (error on stderr)" in result.stdout and "too small" not in result.stdout
    verbose = run_cli("-v", "segment", PHOTOS["one"], "--output-dir", tmp_path)
    assert "XNNPACK delegate" in verbose.stderr  # still there with -v, as a debug line


def test_hints_name_the_flag_not_the_python_parameter(tmp_path):
    onnx = SHARED / "models" / "onnx" / "MobileNetV1-x050-stride16.onnx"
    result = run_cli("segment", "--backend", "tflite", "--model", onnx, PHOTOS["one"], "--output-dir", tmp_path)
    assert result.returncode == 1
    assert "use --backend onnxruntime for .onnx models" in result.stderr and "backend=" not in result.stderr


def test_a_photo_given_as_the_model_is_called_what_it_is(tmp_path):
    result = run_cli("segment", "--model", PHOTOS["one"], PHOTOS["one"], "--output-dir", tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"edge-bodypix: error: model '{PHOTOS['one']}' is not a model file: give a "
                                     "catalogue name (edge-bodypix models list) or a file of a backend's format "
                                     "(.tflite, .onnx)")


def test_onnxruntime_does_not_warn_about_providers_this_machine_cannot_have(tmp_path):
    onnx = SHARED / "models" / "onnx" / "MobileNetV1-x050-stride16.onnx"
    result = run_cli("segment", "--model", onnx, PHOTOS["one"], "--output-dir", tmp_path)
    assert result.returncode == 0 and result.stderr == ""
