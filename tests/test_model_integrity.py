"""A damaged or replaced model is refused before it can run (a privacy camera must not trust it)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import edge_bodypix
from edge_bodypix import ModelIntegrityError

from conftest import DEFAULT_MODEL, SHARED, corrupted_copy, read_rgb, PHOTOS

SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")


def test_a_model_with_one_percent_of_its_bytes_randomised_is_refused_naming_file_and_repair(tmp_path):
    damaged = corrupted_copy(tmp_path / "models")
    with pytest.raises(ModelIntegrityError) as caught:
        edge_bodypix.load(model=str(damaged))
    message = str(caught.value)
    assert str(damaged) in message and "models fetch --force bodypix_mobilenet_v1_075_720_1280_16_quant" in message


def test_the_damaged_model_would_have_run_silently_which_is_why_it_is_checked(tmp_path):
    # verify=False (development) loads it: the file is still a valid TFLite graph
    damaged = edge_bodypix.load(model=str(corrupted_copy(tmp_path / "models")), verify=False)
    healthy = edge_bodypix.load()
    image = read_rgb(PHOTOS["two"])
    assert not np.array_equal(damaged.segment_person(image).data, healthy.segment_person(image).data)


def test_a_damaged_model_found_through_the_model_store_is_refused(tmp_path, monkeypatch):
    corrupted_copy(tmp_path / "models" / "coral")
    monkeypatch.setenv("EDGE_BODYPIX_MODELS", str(tmp_path / "models"))
    with pytest.raises(ModelIntegrityError, match="does not match the catalogue"):
        edge_bodypix.load()


def test_converted_models_are_checked_against_the_hash_their_metadata_records(tmp_path):
    model = tmp_path / "bodypix_custom.tflite"
    shutil.copy(DEFAULT_MODEL, model)
    sidecar = tmp_path / "bodypix_custom.meta.json"
    sidecar.write_text(json.dumps({"sha256": "0" * 64, "output_stride": 16}))
    with pytest.raises(ModelIntegrityError, match="does not match the metadata"):
        edge_bodypix.load(model=str(model))
    import hashlib

    sidecar.write_text(json.dumps({"sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "output_stride": 16}))
    assert edge_bodypix.load(model=str(model)).info.path == str(model)


def test_a_model_with_no_known_hash_loads_in_the_library_but_not_where_a_checksum_is_required(tmp_path):
    model = tmp_path / "bodypix_unknown.tflite"
    shutil.copy(DEFAULT_MODEL, model)
    edge_bodypix.load(model=str(model))
    with pytest.raises(ModelIntegrityError, match="no checksum is known"):
        edge_bodypix.load(model=str(model), require_checksum=True)


def test_the_daemon_refuses_to_start_on_a_damaged_model(tmp_path):
    damaged = corrupted_copy(tmp_path / "models")
    result = subprocess.run(
        [SCRIPT, "serve", "--source", str(SHARED / "videos" / "one-by-one-person-detection.mp4"),
         "--model", str(damaged), "--http", "", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "does not match the catalogue" in result.stderr and "models fetch --force" in result.stderr
    assert "Traceback" not in result.stderr
