"""`serve --mqtt`: state and Home Assistant discovery published to a real Mosquitto broker (Debian's
package, started here on a loopback port with a password file), read back by a real MQTT client."""

import getpass
import json
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import corrupted_copy
from daemon_process import Daemon, free_port, get

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt (the mqtt extra) is needed")
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if shutil.which("/usr/sbin/mosquitto") else None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed "
                                                   "(apt install mosquitto)")]
USER, PASSWORD = "camera", "Corr3ct-Horse"


class Broker:
    """Mosquitto on 127.0.0.1:port, no anonymous access, one user; stop/start keep the port."""

    def __init__(self, folder, tls=None):
        self.port = free_port()
        self.folder = folder
        passwords = folder / "passwords"
        subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD], check=True)
        self.config = folder / "mosquitto.conf"
        certificates = "" if tls is None else (f"cafile {tls['ca']}\ncertfile {tls['cert']}\nkeyfile {tls['key']}\n")
        self.config.write_text(f"listener {self.port} 127.0.0.1\n{certificates}allow_anonymous false\n"
                               f"password_file {passwords}\n"
                               f"persistence false\nuser {getpass.getuser()}\n")  # as root: stay root, keep tmp_path
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            try:
                probe.connect("127.0.0.1", self.port)
                probe.disconnect()
                return
            except OSError:
                assert self.process.poll() is None, self.process.stderr.read()
                time.sleep(0.1)
        raise AssertionError("mosquitto did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Watcher:
    """A subscriber that keeps every message (topic, payload, retained, time) and reconnects by itself."""

    def __init__(self, port, ca=None):
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-watcher")
        self.client.username_pw_set(USER, PASSWORD)
        if ca:
            self.client.tls_set(ca_certs=str(ca))
        self.client.on_connect = lambda c, *_: c.subscribe([("edge-bodypix/#", 1), ("homeassistant/#", 1)])
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, message.payload.decode(), message.retain, time.monotonic()))

    def values(self, topic, since=0.0):
        with self.lock:
            return [payload for t, payload, _, at in self.messages if t == topic and at >= since]

    def wait_for(self, topic, payload=None, since=0.0, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            values = self.values(topic, since)
            if values and (payload is None or payload in values):
                return True
            time.sleep(0.1)
        return False

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path):
    instance = Broker(tmp_path)
    yield instance
    if instance.process.poll() is None:
        instance.stop()


def daemon_config(tmp_path, password, **extra):
    secret = tmp_path / "mqtt-password"
    secret.write_text(password + "\n")
    lines = [f'username = "{USER}"', f'password_file = "{secret}"', 'device_id = "testcam"',
             "presence_hold_s = 0.5", "interval_s = 1.0"] + [f"{k} = {v}" for k, v in extra.items()]
    config = tmp_path / "config.toml"
    config.write_text("[mqtt]\n" + "\n".join(lines) + "\n")
    return config


def test_home_assistant_sees_the_camera_and_its_person_sensor_follows_the_video(tmp_path, broker):
    watcher = Watcher(broker.port)
    daemon = Daemon(tmp_path, "--config", str(daemon_config(tmp_path, PASSWORD)), "--mqtt", f"127.0.0.1:{broker.port}")
    try:
        state = "edge-bodypix/testcam/"
        assert watcher.wait_for("homeassistant/binary_sensor/testcam/person/config"), watcher.messages[:5]
        assert watcher.wait_for("homeassistant/sensor/testcam/last_error/config", timeout=5)  # the last one sent
        config = json.loads(watcher.values("homeassistant/binary_sensor/testcam/person/config")[0])
        assert config["state_topic"] == state + "person" and config["availability_topic"] == state + "availability"
        assert config["device"]["model"] == "bodypix_mobilenet_v1_075_720_1280_16_quant"
        assert {t for t, *_ in watcher.messages if t.startswith("homeassistant/")} == {
            f"homeassistant/{c}/testcam/{o}/config" for c, o in
            [("binary_sensor", "person"), ("sensor", "persons"), ("binary_sensor", "fail_safe"), ("sensor", "fps"),
             ("sensor", "last_error")]}
        assert watcher.wait_for(state + "availability", "online")
        # the video opens on an empty street; a person walks in, leaves, the next one comes
        assert watcher.wait_for(state + "person", "OFF")
        assert watcher.wait_for(state + "person", "ON")
        on = watcher.values(state + "person").index("ON")
        assert "OFF" in watcher.values(state + "person")[on:] or watcher.wait_for(state + "person", "OFF", timeout=60)
        assert watcher.wait_for(state + "persons", "1") and watcher.wait_for(state + "fps")
        assert float(watcher.values(state + "fps")[-1]) > 1
        assert watcher.values(state + "fail_safe") == ["OFF"]  # the self-test passed: never blacked out
        assert watcher.values(state + "last_error") == ["none"]
        # retained: a client that comes later is told the current state at once
        late = Watcher(broker.port)
        try:
            assert late.wait_for(state + "availability", "online", timeout=5) and late.wait_for(state + "person", timeout=5)
            first = {}
            for topic, _, retained, _ in list(late.messages):
                first.setdefault(topic, retained)
            # what it is told first about each topic is the broker's retained copy (live updates follow)
            assert first[state + "person"] and first[state + "availability"] and all(first.values())
        finally:
            late.close()
        # the broker restarts (losing every retained message): the daemon reconnects and publishes it all again
        broker.stop()
        stopped = time.monotonic()
        time.sleep(2)
        broker.start()
        assert watcher.wait_for(state + "availability", "online", since=stopped, timeout=90), watcher.messages[-5:]
        assert watcher.wait_for("homeassistant/binary_sensor/testcam/person/config", since=stopped, timeout=10)
        assert watcher.wait_for(state + "persons", since=stopped, timeout=10)
        assert watcher.wait_for(state + "last_error", since=stopped, timeout=10)
        last_error = watcher.values(state + "last_error", since=stopped)[-1]  # the outage, as it was seen
        assert f"MQTT: cannot connect to 127.0.0.1:{broker.port}: Connection refused" in last_error \
            or "connection lost" in last_error, last_error
        assert daemon.process.poll() is None
        # a clean stop says offline at once instead of leaving it to the broker's keep-alive timeout
        stopping = time.monotonic()
        assert daemon.stop() == 0
        assert watcher.wait_for(state + "availability", "offline", since=stopping, timeout=10)
    finally:
        watcher.close()
        daemon.kill()


def test_fail_safe_turns_on_when_frames_go_out_black(tmp_path, broker):
    """A network that fails its self-test: every frame is black, and Home Assistant is told so."""
    watcher = Watcher(broker.port)
    config = daemon_config(tmp_path, PASSWORD)
    config.write_text(config.read_text() + f'[model]\nname = "{corrupted_copy(tmp_path)}"\nverify = false\n')
    daemon = Daemon(tmp_path, "--config", str(config), "--mqtt", f"127.0.0.1:{broker.port}")
    try:
        assert watcher.wait_for("edge-bodypix/testcam/fail_safe", "ON"), watcher.messages[-5:]
        assert "ON" not in watcher.values("edge-bodypix/testcam/person")  # nobody is claimed from black frames
    finally:
        daemon.kill()
        watcher.close()


def test_a_wrong_password_is_a_clear_error_and_frames_keep_flowing(tmp_path, broker):
    daemon = Daemon(tmp_path, "--config", str(daemon_config(tmp_path, "wrong-password")),
                    "--mqtt", f"127.0.0.1:{broker.port}")
    try:
        assert daemon.wait_for("READY=1"), daemon.messages
        first = json.loads(get(daemon.url("/healthz"))[2])["frames"]
        time.sleep(3)
        assert json.loads(get(daemon.url("/healthz"))[2])["frames"] > first + 20
        status = json.loads(get(daemon.url("/status.json"))[2])
        assert status["errors"].get("mqtt", 0) >= 1
        assert daemon.stop() == 0
        log = daemon.process.stderr.read()
        expected = (f"MQTT broker 127.0.0.1:{broker.port} refused the connection: Not authorized "
                    "(mqtt.username / mqtt.password_file)")
        assert expected in log, log
        assert log.count(expected) == 1  # said once, not at every retry
        assert "Traceback" not in log
    finally:
        daemon.kill()


def test_a_broker_that_is_not_there_yet_is_waited_for_without_holding_frames(tmp_path):
    port = free_port()
    daemon = Daemon(tmp_path, "--config", str(daemon_config(tmp_path, PASSWORD)), "--mqtt", f"127.0.0.1:{port}")
    try:
        assert daemon.wait_for("READY=1"), daemon.messages
        frames = json.loads(get(daemon.url("/healthz"))[2])["frames"]
        time.sleep(2)
        assert json.loads(get(daemon.url("/healthz"))[2])["frames"] > frames + 20
        assert daemon.stop() == 0
        log = daemon.process.stderr.read()
        assert log.count(f"MQTT: cannot connect to 127.0.0.1:{port}: Connection refused; retrying") == 1, log
    finally:
        daemon.kill()


def certificate_authority(folder, name):
    """A CA and a broker certificate for 127.0.0.1 signed by it, made with openssl."""
    folder.mkdir()
    ca, key = folder / "ca.crt", folder / "ca.key"
    run = lambda *args: subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", ca, "-days", "2", "-subj", f"/CN={name}")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", folder / "server.key", "-out", folder / "server.csr",
        "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", folder / "server.csr", "-CA", ca, "-CAkey", key, "-CAcreateserial", "-days", "2",
        "-out", folder / "server.crt", "-extfile", folder / "san.ext")
    return {"ca": ca, "cert": folder / "server.crt", "key": folder / "server.key"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificates")
def test_tls_to_the_broker_and_an_untrusted_certificate_said_clearly(tmp_path):
    tls = certificate_authority(tmp_path / "pki", "edge-bodypix test CA")
    stranger = certificate_authority(tmp_path / "other", "someone else's CA")
    broker = Broker(tmp_path, tls=tls)
    watcher = Watcher(broker.port, ca=tls["ca"])
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    daemon = Daemon(trusted, "--config", str(daemon_config(trusted, PASSWORD, tls="true", ca_file=f'"{tls["ca"]}"')),
                    "--mqtt", f"127.0.0.1:{broker.port}")
    try:
        assert watcher.wait_for("edge-bodypix/testcam/availability", "online"), daemon.process.poll()
        assert watcher.wait_for("homeassistant/binary_sensor/testcam/person/config")
    finally:
        daemon.kill()
        watcher.close()
    untrusting = tmp_path / "untrusting"
    untrusting.mkdir()
    daemon = Daemon(untrusting, "--config", str(daemon_config(untrusting, PASSWORD, tls="true",
                                                              ca_file=f'"{stranger["ca"]}"')),
                    "--mqtt", f"127.0.0.1:{broker.port}")
    try:
        assert daemon.wait_for("READY=1"), daemon.messages
        time.sleep(3)
        assert daemon.stop() == 0
        log = daemon.process.stderr.read()
        said = re.findall(rf"MQTT: cannot connect to 127.0.0.1:{broker.port}: TLS: the broker's certificate is not "
                          rf"trusted \(([^;]+); mqtt.ca_file = '{re.escape(str(stranger['ca']))}'\)", log)
        assert len(said) == 1 and "certificate" in said[0], log  # OpenSSL's words, said once
    finally:
        daemon.kill()
        broker.stop()
