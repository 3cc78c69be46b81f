"""The catalogue knows every official model; the store finds, fetches and verifies them offline."""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edge_bodypix import FetchError, InvalidParameterError, ModelNotFoundError
from edge_bodypix.models import (
    ENV_VAR,
    converted_name,
    fetch,
    load_catalogue,
    resolve,
    search_dirs,
    sha256_file,
    verify,
)
from edge_bodypix.models.catalogue import ModelSpec

from conftest import CORAL, DEFAULT_MODEL, MODELS, SHARED

SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")


def shared_sha256():
    """sha256 sums published in ../shared/MODELS.md, by path below shared/."""
    text = (SHARED / "MODELS.md").read_text()
    block = text.split("```")[1]
    return {path: digest for digest, path in (line.split() for line in block.strip().splitlines())}


def test_catalogue_lists_every_official_tfjs_checkpoint():
    catalogue = load_catalogue()
    tfjs = [e for e in catalogue if e.format == "tfjs"]
    assert len(tfjs) == 3 * 2 * 3 + 2 * 3  # MobileNet mult x stride x quant, ResNet stride x quant
    for entry in tfjs:
        assert entry.url.startswith("https://storage.googleapis.com/tfjs-models/savedmodel/bodypix/")
        assert entry.url.endswith(f"model-stride{entry.output_stride}.json")
        assert entry.quant_bytes in (1, 2, 4)
    resnet = [e for e in tfjs if e.architecture == "ResNet50"]
    assert {e.output_stride for e in resnet} == {16, 32} and all(e.normalisation == "resnet50" for e in resnet)


def test_catalogue_checksums_agree_with_the_shared_models():
    published = shared_sha256()
    catalogue = load_catalogue()
    for path, digest in published.items():
        if not path.startswith("models/") or path.endswith(".json"):
            continue
        entry = catalogue.get(Path(path).stem)
        assert entry.sha256 == digest, path
        assert entry.file == path[len("models/"):]


def test_catalogue_describes_runtimes_and_twins():
    catalogue = load_catalogue()
    default = catalogue.default()
    assert default.name == "bodypix_mobilenet_v1_075_720_1280_16_quant" and default.runs_on_cpu
    tpu = catalogue.get("bodypix_mobilenet_v1_075_720_1280_16_quant_edgetpu")
    assert tpu.runtime == "edgetpu" and tpu.cpu_twin == default.name
    assert "PosenetDecoderOp" in catalogue.get("bodypix_mobilenet_v1_075_640_480_16_quant_decoder").runtime
    assert catalogue.get("MobileNetV1-x050-stride8").runtime == "onnxruntime"


def test_converter_outputs_follow_the_documented_name_scheme():
    assert converted_name("MobileNetV1", 0.5, 8, "int8") == "bodypix_mobilenet_v1_050_8_int8"
    assert converted_name("ResNet50", 1.0, 32, "float16", (481, 641), edgetpu=True) == \
        "bodypix_resnet50_32_float16_481x641_edgetpu"
    entry = load_catalogue().get("bodypix_resnet50_16_float32")
    assert entry.fetch_command == "edge-bodypix convert bodypix_resnet50_16_float32"
    assert entry.file == "converted/bodypix_resnet50_16_float32.tflite" and entry.url is None


def test_unknown_names_get_suggestions():
    with pytest.raises(ModelNotFoundError, match="did you mean bodypix_mobilenet_v1_075_720_1280_16_quant"):
        load_catalogue().get("bodypix_mobilenet_v1_075_720_1280_16_qant")


def test_resolution_by_path_name_and_configuration():
    assert resolve(str(DEFAULT_MODEL)).path == DEFAULT_MODEL
    assert resolve("bodypix_mobilenet_v1_075_720_1280_16_quant.tflite").spec.default
    assert resolve().path.resolve() == DEFAULT_MODEL.resolve()
    per_tensor = resolve("bodypix_mobilenet_v1_075_1280_720_16_per_tensor_quant")
    assert per_tensor.path == CORAL / "bodypix_mobilenet_v1_075_1280_720_16_per_tensor_quant.tflite"


def test_search_order_is_explicit_then_environment_then_cache_then_system(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dirs = search_dirs([tmp_path / "explicit"])
    assert dirs == [tmp_path / "explicit", tmp_path / "a", tmp_path / "b",
                    tmp_path / "cache" / "edge-bodypix" / "models", Path("/var/lib/edge-bodypix/models")]


def test_a_model_found_directly_in_a_directory_by_file_name(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    shutil.copy(DEFAULT_MODEL, tmp_path / DEFAULT_MODEL.name)
    assert resolve().path == tmp_path / DEFAULT_MODEL.name


def test_a_missing_model_says_where_it_looked_and_how_to_fetch_it(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(ModelNotFoundError) as caught:
        resolve()
    message = str(caught.value)
    assert str(tmp_path / "empty") in message and "/var/lib/edge-bodypix/models" in message
    assert "edge-bodypix models fetch bodypix_mobilenet_v1_075_720_1280_16_quant" in message


def test_a_missing_converted_model_points_to_the_converter(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="edge-bodypix convert bodypix_resnet50_16_float32"):
        resolve(architecture="ResNet50", multiplier=1.0, output_stride=16, quant_bytes=4)


def test_missing_files_and_bad_configurations(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve(str(tmp_path / "nope.tflite"))
    with pytest.raises(ModelNotFoundError, match="is a directory"):
        resolve(str(tmp_path))
    with pytest.raises(InvalidParameterError, match="multiplier 0.25"):
        resolve(multiplier=0.25)


class _Server:
    """A loopback HTTP server over a directory, optionally cutting one file short."""

    def __init__(self, root: Path, truncate: str = None):
        server_root = root
        self.requests = requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(server_root), **kwargs)

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                requests.append(self.path)
                super().do_GET()

            def copyfile(self, source, outputfile):
                if truncate and self.path.endswith(truncate):
                    outputfile.write(source.read(1000))  # promise the full length, send 1000 bytes
                    return
                super().copyfile(source, outputfile)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _spec_for(url, sha256, name="served_model", file="coral/served_model.tflite", fmt="tflite"):
    return ModelSpec(name=name, file=file, format=fmt, architecture="MobileNetV1", multiplier=0.75,
                     output_stride=16, quant_bytes=1, quantisation="uint8", normalisation="mobilenet",
                     runtime="cpu", url=url, sha256=sha256)


def test_fetch_downloads_verifies_and_installs_atomically(tmp_path):
    digest = sha256_file(DEFAULT_MODEL)
    with _Server(CORAL) as base:
        spec = _spec_for(f"{base}/{DEFAULT_MODEL.name}", digest)
        path = fetch(spec, tmp_path / "store", progress=None)
    assert path == tmp_path / "store" / "coral" / "served_model.tflite"
    assert sha256_file(path) == digest
    assert [p.name for p in path.parent.iterdir()] == ["served_model.tflite"]  # no temporary left
    assert verify(spec, [tmp_path / "store"]).status == "ok"


def test_a_checksum_mismatch_installs_nothing(tmp_path):
    with _Server(CORAL) as base:
        spec = _spec_for(f"{base}/{DEFAULT_MODEL.name}", "0" * 64)
        with pytest.raises(FetchError, match="checksum mismatch"):
            fetch(spec, tmp_path, progress=None)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_an_interrupted_download_leaves_no_partial_file(tmp_path):
    with _Server(CORAL, truncate=DEFAULT_MODEL.name) as base:
        spec = _spec_for(f"{base}/{DEFAULT_MODEL.name}", None)
        with pytest.raises(FetchError):
            fetch(spec, tmp_path, progress=None)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_an_unreachable_server_is_a_fetch_error_naming_the_url(tmp_path):
    spec = _spec_for("http://127.0.0.1:9/none.tflite", None)
    with pytest.raises(FetchError, match="127.0.0.1:9/none.tflite"):
        fetch(spec, tmp_path, progress=None)


def test_tfjs_checkpoints_fetch_their_shards_before_model_json(tmp_path):
    source = tmp_path / "server" / "mobilenet" / "float" / "050"
    source.mkdir(parents=True)
    shards = ["group1-shard1of2.bin", "group1-shard2of2.bin"]
    for i, shard in enumerate(shards):
        (source / shard).write_bytes(bytes([i]) * 5000)
    manifest = {"format": "graph-model", "modelTopology": {}, "weightsManifest": [{"paths": shards, "weights": []}]}
    (source / "model-stride16.json").write_text(json.dumps(manifest))
    with _Server(tmp_path / "server") as base:
        spec = _spec_for(f"{base}/mobilenet/float/050/model-stride16.json", None, name="tfjs_test",
                         file="tfjs/mobilenet/float/050/model-stride16.json", fmt="tfjs")
        path = fetch(spec, tmp_path / "store", progress=None)
    installed = sorted(p.name for p in path.parent.iterdir())
    assert installed == sorted(shards + ["model-stride16.json"])
    assert (path.parent / shards[1]).read_bytes() == bytes([1]) * 5000


def test_verify_reports_mismatches(tmp_path):
    store = tmp_path / "coral"
    store.mkdir()
    (store / DEFAULT_MODEL.name).write_bytes(b"TFL3 but not the real model")
    result = verify(load_catalogue().default(), [tmp_path])
    assert result.status == "mismatch" and "expected" in result.detail


def test_the_shared_models_verify():
    for entry in load_catalogue():
        if entry.format in ("tflite", "onnx") and entry.url and "converter" not in entry.source:
            assert verify(entry, [MODELS]).status == "ok", entry.name


TFJS_SHARED = MODELS / "tfjs" / "bodypix" / "mobilenet"


def tfjs_sha256():
    """The tfjs checkpoints' sha256 as ../shared/MODELS.md publishes them, by path below models/tfjs/bodypix/mobilenet."""
    text = (SHARED / "MODELS.md").read_text()
    return dict((path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  ((?:float|quant[12])/\S+)$", text, re.M))


def shared_checkpoints():
    return [e for e in load_catalogue() if e.format == "tfjs" and (MODELS / e.file).is_file()]


def test_every_shared_tfjs_checkpoint_is_found_at_its_official_path_and_verifies():
    published = tfjs_sha256()
    found = shared_checkpoints()
    assert len(found) == len([p for p in published if p.endswith(".json")]) == 12
    for entry in found:
        relative = entry.url.split("/savedmodel/bodypix/mobilenet/")[1]
        assert entry.file == "tfjs/bodypix/mobilenet/" + relative  # the official layout below tfjs/
        assert entry.sha256 == published[relative]
        assert entry.shards == {"group1-shard1of1.bin": published[relative.rsplit("/", 1)[0] + "/group1-shard1of1.bin"]}
        assert verify(entry, [MODELS]).status == "ok", entry.name
    names = {(e.multiplier, e.output_stride, e.quantisation) for e in found}
    assert names == {(m, s, q) for s in (8, 16) for m, q in
                     [(0.5, "float"), (0.5, "quant2"), (0.75, "quant2"), (0.5, "quant1"), (0.75, "quant1"), (1.0, "quant1")]}


def test_models_fetch_installs_every_tfjs_checkpoint_from_a_mirror_and_checks_every_file(tmp_path):
    """`models fetch --mirror` over loopback: the catalogue keeps the official URLs, the mirror holds
    the official layout (../shared/models served as it is)."""
    names = [e.name for e in shared_checkpoints()]
    server = _Server(MODELS)
    with server as base:
        result = subprocess.run([SCRIPT, "models", "fetch", *names, "--mirror", base, "--dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for entry in shared_checkpoints():
        assert verify(entry, [tmp_path]).status == "ok", entry.name
        assert (tmp_path / entry.file).read_bytes() == (MODELS / entry.file).read_bytes()
    shards = [r for r in server.requests if r.endswith(".bin")]
    assert len(shards) == len(set(shards)) == 6  # one shard per folder, shared by both strides: fetched once
    assert all(r.startswith("/tfjs/bodypix/mobilenet/") for r in server.requests)


def test_a_damaged_shard_from_a_mirror_installs_nothing(tmp_path):
    mirror = tmp_path / "mirror"
    entry = load_catalogue().get("bodypix_mobilenet_v1_050_16_tfjs_float")
    copy = mirror / entry.file
    copy.parent.mkdir(parents=True)
    shutil.copy(MODELS / entry.file, copy)
    damaged = bytearray((MODELS / entry.file).with_name("group1-shard1of1.bin").read_bytes())
    damaged[1000] ^= 0xFF
    copy.with_name("group1-shard1of1.bin").write_bytes(bytes(damaged))
    with _Server(mirror) as base:
        with pytest.raises(FetchError, match="checksum mismatch for .*group1-shard1of1.bin"):
            fetch(entry, tmp_path / "store", progress=None, mirror=base)
    assert not list((tmp_path / "store").rglob("*.json")) and not list((tmp_path / "store").rglob("*.bin"))


def test_verify_names_a_missing_or_damaged_shard(tmp_path):
    entry = load_catalogue().get("bodypix_mobilenet_v1_075_16_tfjs_quant2")
    target = tmp_path / entry.file
    target.parent.mkdir(parents=True)
    shutil.copy(MODELS / entry.file, target)
    result = verify(entry, [tmp_path])
    assert result.status == "mismatch" and "group1-shard1of1.bin is missing" in result.detail
    target.with_name("group1-shard1of1.bin").write_bytes(b"not the weights")
    assert "group1-shard1of1.bin: sha256" in verify(entry, [tmp_path]).detail
