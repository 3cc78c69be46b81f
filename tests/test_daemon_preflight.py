"""`serve --check-config` finds what would stop the daemon, and the unit's address list is a config choice."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SHARED
from edge_bodypix.daemon.config import ConfigError, load_config
from edge_bodypix.daemon.network import allowed, blocked, dropin, parse_allow

SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")
VIDEO = SHARED / "videos" / "one-by-one-person-detection.mp4"


def check_config(*args, env=None):
    return subprocess.run([SCRIPT, "serve", "--check-config", *map(str, args)], capture_output=True, text=True,
                          env=env or os.environ, timeout=120)


def test_a_model_that_is_not_installed_is_found_before_the_start():
    result = check_config("--source", VIDEO, "--model", "bodypix_resnet50_float_stride16_no_such")
    assert result.returncode == 2
    assert "model.name = 'bodypix_resnet50_float_stride16_no_such'" in result.stderr
    assert "configuration ok" not in result.stdout


@pytest.mark.parametrize("source, message", [("missing.mp4", "no such file"), (".", "is a directory")])
def test_a_source_file_that_does_not_exist_is_found_before_the_start(tmp_path, source, message):
    result = check_config("--source", tmp_path / source)
    assert result.returncode == 2 and message in result.stderr and str(tmp_path) in result.stderr


def test_a_camera_not_plugged_in_yet_is_a_warning_because_the_daemon_waits_for_it():
    result = check_config("--source", "/dev/video97")
    assert result.returncode == 0, result.stderr
    assert "warning: source.uri = '/dev/video97' is not present now" in result.stderr
    assert result.stdout.strip().splitlines()[-1] == "configuration ok"
    assert "self-test passed" in result.stdout


def test_the_units_default_address_list_would_block_a_lan_camera_and_says_how_to_allow_it(tmp_path):
    result = check_config("--source", "rtsp://user:pw@192.168.1.20:554/stream1")
    assert result.returncode == 2
    assert "source.uri is at 192.168.1.20, which service.ip_address_allow = 'localhost' blocks" in result.stderr
    config = tmp_path / "config.toml"
    config.write_text('[source]\nuri = "rtsp://192.168.1.20/stream1"\n'
                      '[service]\nip_address_allow = "localhost 192.168.1.0/24"\n')
    result = check_config("--config", config)
    assert result.returncode == 0, result.stderr


def test_remote_http_clients_need_an_address_list_beyond_loopback(tmp_path):
    args = ("--source", VIDEO, "--http", "0.0.0.0:8080", "--token", "s3cret")
    result = check_config(*args)
    assert result.returncode == 2 and "lets only this one connect" in result.stderr
    config = tmp_path / "config.toml"
    config.write_text('[service]\nip_address_allow = "any"\n')
    assert check_config(*args, "--config", config).returncode == 0


def test_rtsp_and_mqtt_are_checked_before_the_start(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[rtsp]\nusername = "nvr"\npassword_file = "{tmp_path / "no-such-password"}"\n'
                      '[mqtt]\nport = 1\n')
    result = check_config("--config", config, "--source", VIDEO, "--rtsp", "127.0.0.1:8554/cam", "--mqtt", "127.0.0.1:1")
    assert result.returncode == 2
    assert f"rtsp.password_file = '{tmp_path / 'no-such-password'}': cannot read the password" in result.stderr
    # a broker that is down now is waited for, so it is a warning; the encoder in use is a note
    assert "warning: mqtt.host = '127.0.0.1', mqtt.port = 1: the broker does not answer now" in result.stderr
    assert "Traceback" not in result.stderr
    ok = check_config("--source", VIDEO, "--rtsp", "127.0.0.1:8554")
    if ok.returncode == 0:
        assert "rtsp: software H.264 (x264) on rtsp://127.0.0.1:8554/protected" in ok.stdout
    else:  # no GStreamer RTSP server on this machine: said with what to install
        assert "apt install python3-gi gir1.2-gst-rtsp-server-1.0" in ok.stderr


def test_a_stream_named_by_host_needs_its_address_in_the_list():
    config = load_config(overrides={"source": {"uri": "rtsp://camera.local/live"}})
    assert "names the host 'camera.local'" in blocked(config)[0]
    anywhere = load_config(overrides={"source": {"uri": "rtsp://camera.local/live"},
                                      "service": {"ip_address_allow": "any"}})
    assert blocked(anywhere) == []


def test_the_mqtt_broker_and_a_remote_rtsp_listener_are_held_to_the_list_too(tmp_path):
    password = tmp_path / "password"
    password.write_text("pw\n")
    config = load_config(overrides={"mqtt": {"host": "192.168.1.5"},
                                    "rtsp": {"listen": "0.0.0.0:8554", "username": "nvr", "password_file": str(password)}})
    problems = blocked(config)
    assert any("mqtt.host is at 192.168.1.5, which service.ip_address_allow = 'localhost' blocks" in p for p in problems)
    assert any("rtsp.listen = '0.0.0.0:8554' serves other machines" in p for p in problems)
    lan = load_config(overrides={"mqtt": {"host": "192.168.1.5"},
                                 "service": {"ip_address_allow": "localhost 192.168.1.0/24"},
                                 "rtsp": {"listen": "0.0.0.0:8554", "username": "nvr", "password_file": str(password)}})
    assert blocked(lan) == []


def test_address_list_entries_are_checked_and_expanded_as_systemd_does():
    assert parse_allow("localhost  10.0.0.0/8 fe80::1") == ("localhost", "10.0.0.0/8", "fe80::1")
    assert allowed("10.1.2.3", ["10.0.0.0/8"]) and not allowed("11.1.2.3", ["10.0.0.0/8"])
    assert allowed("::1", ["localhost"]) and allowed("2001:db8::1", ["any"]) and not allowed("8.8.8.8", ["localhost"])
    with pytest.raises(ConfigError, match=r"service.ip_address_allow entry '192.168.1.0/33' is not an address"):
        load_config(overrides={"service": {"ip_address_allow": "localhost 192.168.1.0/33"}})
    with pytest.raises(ConfigError, match="service.ip_address_allow is empty"):
        load_config(overrides={"service": {"ip_address_allow": " "}})


def test_started_by_systemd_the_daemon_refuses_a_camera_its_unit_would_block():
    env = dict(os.environ, INVOCATION_ID="0123456789abcdef")
    result = subprocess.run([SCRIPT, "serve", "--source", "rtsp://192.168.1.20/stream1", "--max-frames", "1"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "192.168.1.20" in result.stderr and "ip_address_allow" in result.stderr


def test_the_dropin_replaces_the_units_list_and_verifies_with_the_unit(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[service]\nip_address_allow = "localhost 192.168.1.0/24"\n')
    result = subprocess.run([SCRIPT, "serve", "--systemd-dropin", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("IPAddressAllow=") < lines.index("IPAddressAllow=localhost 192.168.1.0/24")
    assert result.stdout == dropin(load_config(str(config)), str(config))
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # a drop-in's [Service] lines apply as if appended to the unit's [Service] section
    unit = (ROOT / "systemd" / "edge-bodypix.service").read_text()
    head, tail = unit.split("\n[Install]")
    body = "\n".join(line for line in lines if not line.startswith(("#", "[")))
    merged = tmp_path / "edge-bodypix.service"
    merged.write_text(head.replace("/opt/edge-bodypix/bin/edge-bodypix", shutil.which("true")) + "\n" + body
                      + "\n\n[Install]" + tail)
    verify = subprocess.run([analyze, "verify", str(merged)], capture_output=True, text=True)
    problems = [line for line in verify.stderr.splitlines() if "edge-bodypix.service" in line
                and "user" not in line.lower()]
    assert not problems, verify.stderr


def test_the_unit_allows_the_pi_cameras_dma_heaps_not_their_directory():
    unit = (ROOT / "systemd" / "edge-bodypix.service").read_text()
    allow = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("DeviceAllow=")]
    assert "char-dma_heap rw" in allow  # /dev/dma_heap/{vidbuf_cached,linux,cma,reserved,system}
    assert not any(entry.startswith("/dev/dma_heap ") for entry in allow)


def test_a_model_that_fails_the_selftest_is_found_before_the_start(tmp_path):
    from conftest import corrupted_copy

    damaged = corrupted_copy(tmp_path / "models")
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\nname = "{damaged}"\nverify = false\n[source]\nuri = "{VIDEO}"\n')
    result = check_config("--config", config)
    assert result.returncode != 0
    assert "self-test FAILED" in result.stderr and "person mask IoU" in result.stderr
    assert "configuration ok" not in result.stdout
