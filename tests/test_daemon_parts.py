"""The daemon's pure parts, on plain values: occupancy states, Home Assistant discovery, the H.264 encoder
choice, the new config sections and the systemd notifier that must never stall the frame loop."""

import json
import socket
import subprocess
import threading

import pytest

from daemon_process import SCRIPT
from edge_bodypix.daemon.config import ConfigError, load_config, public_view, read_secret, split_rtsp_url
from edge_bodypix.daemon.homeassistant import ENTITIES, Topics, discovery_messages
from edge_bodypix.daemon.occupancy import FAIL_SAFE_CLEAR_S, Occupancy
from edge_bodypix.daemon.outputs.h264 import automatic_bitrate_kbps, choose_encoder, key_frame_period
from edge_bodypix.daemon.systemd import Notifier

pytestmark = pytest.mark.pure


def test_presence_turns_on_with_the_first_person_and_off_only_after_the_hold_time():
    occupancy = Occupancy(presence_hold_s=2.0, fps_window_s=1.0)
    assert occupancy.update(0.0, 0, False).person is False
    assert occupancy.update(0.1, 1, False).person is True
    assert occupancy.update(0.2, 0, False).person is True  # a person hidden for a frame is still there
    assert occupancy.update(2.0, 0, False).person is True
    state = occupancy.update(2.2, 0, False)
    assert state.person is False and state.persons == 0


def test_a_frame_whose_people_are_unknown_changes_neither_count_nor_presence():
    occupancy = Occupancy(presence_hold_s=0.5)
    occupancy.update(0.0, 3, False)
    state = occupancy.update(0.4, -1, True)
    assert state.persons == 3 and state.person is True and state.fail_safe is True


def test_fail_safe_clears_only_after_a_quiet_period_and_fps_is_measured_per_window():
    occupancy = Occupancy(fps_window_s=1.0)
    assert occupancy.update(0.0, 0, True).fail_safe is True
    assert occupancy.update(0.1, 0, False).fps is None
    for i in range(2, 11):
        state = occupancy.update(i / 10, 0, False)
    assert state.fps == pytest.approx(11.0)  # 11 frames over the first second
    assert state.fail_safe is True
    assert occupancy.state(FAIL_SAFE_CLEAR_S + 0.01).fail_safe is False


def test_discovery_makes_one_device_whose_entities_share_its_availability():
    topics = Topics("edge-bodypix", "porch")
    messages = dict(discovery_messages(topics, "homeassistant", "bodypix_mobilenet_v1_075", "0.1.0", "http://pi:8080/"))
    assert len(messages) == len(ENTITIES)
    person = json.loads(messages["homeassistant/binary_sensor/porch/person/config"])
    assert person["state_topic"] == "edge-bodypix/porch/person" and person["device_class"] == "occupancy"
    assert person["payload_on"] == "ON" and person["unique_id"] == "edge-bodypix-porch-person"
    configs = [json.loads(m) for m in messages.values()]
    assert {c["availability_topic"] for c in configs} == {"edge-bodypix/porch/availability"}
    assert len({json.dumps(c["device"], sort_keys=True) for c in configs}) == 1
    assert configs[0]["device"]["configuration_url"] == "http://pi:8080/"
    assert len({c["unique_id"] for c in configs}) == len(configs)


def test_the_hardware_encoder_is_preferred_and_software_is_the_fallback():
    assert choose_encoder("auto", lambda name: True).element == "v4l2h264enc"
    x264 = choose_encoder("auto", lambda name: name != "v4l2h264enc")
    assert x264.element == "x264enc" and not x264.hardware
    assert "key-int-max=15" in x264.chain(800, 15) and "bframes=0" in x264.chain(800, 15)
    assert choose_encoder("auto", lambda name: name == "openh264enc").element == "openh264enc"
    with pytest.raises(ValueError, match="rtsp.encoder = 'x264enc': no H.264 encoder .* gstreamer1.0-plugins-ugly"):
        choose_encoder("x264enc", lambda name: False)
    assert automatic_bitrate_kbps(768, 432, 10) == 500 and automatic_bitrate_kbps(1920, 1080, 30) == 6220
    assert key_frame_period(10, 1.0) == 10 and key_frame_period(0.5, 1.0) == 1


def test_rtsp_and_mqtt_settings_are_checked_naming_the_key(tmp_path):
    assert split_rtsp_url("127.0.0.1:8554/cam/1") == ("127.0.0.1:8554", "/cam/1")
    assert split_rtsp_url("127.0.0.1:8554") == ("127.0.0.1:8554", "/protected")
    cases = [
        ({"rtsp": {"listen": "0.0.0.0:8554"}}, "rtsp.listen = '0.0.0.0:8554' reaches beyond this machine"),
        ({"rtsp": {"listen": "8554"}}, "rtsp.listen = '8554': use HOST:PORT, e.g. 127.0.0.1:8554"),
        ({"rtsp": {"username": "nvr"}}, "rtsp.username and rtsp.password_file go together"),
        ({"rtsp": {"encoder": "nvenc"}}, "rtsp.encoder = 'nvenc': allowed values are auto, v4l2h264enc"),
        ({"mqtt": {"host": "broker", "port": 0}}, r"mqtt.port = 0: must be in \[1, 65535\]"),
        ({"mqtt": {"host": "broker", "topic_prefix": "cams/#"}}, "mqtt.topic_prefix = 'cams/#'"),
        ({"mqtt": {"password_file": "/x"}}, "mqtt.password_file is set without mqtt.username"),
        ({"http": {"token": "two words"}}, "http.token: use printable ASCII without spaces"),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_config("", overrides)
    secret = tmp_path / "password"
    with pytest.raises(ConfigError, match=f"rtsp.password_file = '{secret}': cannot read the password"):
        read_secret(str(secret), "rtsp.password_file")
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="first line is empty"):
        read_secret(str(secret), "rtsp.password_file")
    secret.write_text("hunter2\nignored\n")
    assert read_secret(str(secret), "mqtt.password_file") == "hunter2"


def test_the_public_view_of_the_configuration_hides_the_token():
    config = load_config("", {"http": {"token": "abc123"}, "mqtt": {"host": "broker", "username": "cam",
                                                                     "password_file": "/etc/edge-bodypix/mqtt"}})
    view = public_view(config)
    assert view["http"]["token"] == "(set)" and "abc123" not in json.dumps(view)
    assert view["mqtt"]["password_file"] == "/etc/edge-bodypix/mqtt"  # a path, not the password


def test_a_notify_socket_nobody_reads_never_blocks_the_daemon(tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)  # bound, never read: its queue fills after a few messages
        notifier = Notifier(address=path)
        worker = threading.Thread(target=lambda: [notifier.status(f"frame {i}") for i in range(200)], daemon=True)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "sd_notify blocked on a full socket"
        notifier.close()


def test_serve_help_lists_the_new_outputs():
    result = subprocess.run([SCRIPT, "serve", "--help"], capture_output=True, text=True)
    assert "--rtsp HOST:PORT[/PATH]" in result.stdout and "--mqtt HOST[:PORT]" in result.stdout


def test_a_missing_pipeline_element_names_the_package_that_has_it():
    from edge_bodypix.daemon.outputs.h264 import missing_elements

    assert missing_elements(lambda name: True) == ""
    message = missing_elements(lambda name: name != "h264parse")
    assert message == "GStreamer element h264parse is missing: apt install gstreamer1.0-plugins-bad"
    assert missing_elements(lambda name: name == "appsrc").startswith(
        "GStreamer elements videoconvert, h264parse, rtph264pay are missing: apt install gstreamer1.0-plugins-bad "
        "gstreamer1.0-plugins-base gstreamer1.0-plugins-good")
