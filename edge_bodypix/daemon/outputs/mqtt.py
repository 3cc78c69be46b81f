"""Camera state over MQTT (paho-mqtt), with Home Assistant discovery.

Retained state topics under `<topic_prefix>/<device_id>/`: `person` (ON/OFF,
with the hold time), `persons`, `fail_safe` (ON/OFF), `fps`, `last_error`, and
`availability` (online, or offline as the client's last will). paho's network
thread connects, reconnects with backoff (1 s doubling to 60 s) and sends;
`write` only compares states and queues what changed, so a broker that is slow,
gone or refusing the login never holds the frame loop. Every (re)connection
republishes the discovery messages and the whole state, so a restarted broker
(which may have lost its retained messages) is whole again within a second.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from typing import Dict, Optional

from ... import __version__
from ..homeassistant import OFF, OFFLINE, ON, ONLINE, Topics, default_device_id, discovery_messages
from ..metrics import Metrics
from ..occupancy import Occupancy
from .base import Output, OutputError, ProcessedFrame

log = logging.getLogger(__name__)
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 60
KEEPALIVE_S = 30


class MqttOutput(Output):
    def __init__(self, host: str, port: int = 1883, username: str = "", password: str = "", tls: bool = False,
                 ca_file: str = "", topic_prefix: str = "edge-bodypix", device_id: str = "",
                 discovery_prefix: str = "homeassistant", presence_hold_s: float = 10.0, interval_s: float = 5.0,
                 metrics: Optional[Metrics] = None, model: str = ""):
        self.host, self.port, self.username, self.password = host, port, username, password
        self.tls, self.ca_file = tls, ca_file
        self.topics = Topics(topic_prefix, device_id or default_device_id())
        self.discovery_prefix, self.interval_s = discovery_prefix, interval_s
        self.metrics, self.model = metrics, model
        self.occupancy = Occupancy(presence_hold_s, fps_window_s=interval_s)
        self._client = None
        self._lock = threading.Lock()
        self._state: Dict[str, str] = {}  # what the broker should hold, topic name -> payload
        self._published: Dict[str, str] = {}  # what was sent on this connection
        self._connected = False
        self._refusal: Optional[str] = None  # the broker's last refusal, logged once until it changes
        self._error = None  # the last ErrorRecord seen, and its state text
        self._state_error = ""

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise OutputError("mqtt.host is set, but paho-mqtt is not installed: pip install 'edge-bodypix[mqtt]'") from None
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edge-bodypix-{self.topics.device_id}",
                             protocol=mqtt.MQTTv311)
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            try:
                client.tls_set(ca_certs=self.ca_file or None)
            except (OSError, ValueError) as exc:
                raise OutputError(f"mqtt.ca_file = {self.ca_file!r}: cannot use it for TLS ({exc})") from None
        client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        self._state["last_error"] = "none"
        try:
            client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        except (OSError, ValueError) as exc:
            raise OutputError(f"mqtt.host = {self.host!r}, mqtt.port = {self.port}: {exc}") from None
        client.loop_start()  # paho's thread: the first connection and every reconnection, with backoff
        log.info("MQTT: publishing to %s:%d under %s/", self.host, self.port, self.topics.state("")[:-1])

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            reason = str(reason_code)
            hint = (" (mqtt.username / mqtt.password_file)" if "password" in reason.lower() or "authori" in reason.lower()
                    else "")
            self._report(f"MQTT broker {self.host}:{self.port} refused the connection: {reason}{hint}")
            return
        self._refusal = None
        log.info("MQTT: connected to %s:%d", self.host, self.port)
        if self.discovery_prefix:
            for topic, payload in discovery_messages(self.topics, self.discovery_prefix, self.model, __version__):
                client.publish(topic, payload, qos=1, retain=True)
        client.publish(self.topics.availability, ONLINE, qos=1, retain=True)
        with self._lock:
            self._connected = True
            self._published = {}
            pending = dict(self._state)
        self._send(pending)

    def _report(self, message: str) -> None:
        """Log a connection problem once until it changes (paho retries every few seconds), count every one."""
        if message != self._refusal:
            log.error("%s; retrying with backoff up to %d s", message, RECONNECT_MAX_S)
            self._refusal = message
        if self.metrics is not None:
            self.metrics.error("mqtt", message)

    def _diagnose(self) -> str:
        """Why a connection failed, for the log (paho says only that it did): TCP, then the TLS handshake."""
        try:
            with socket.create_connection((self.host, self.port), timeout=5) as sock:
                if self.tls:
                    context = ssl.create_default_context(cafile=self.ca_file or None)
                    with context.wrap_socket(sock, server_hostname=self.host):
                        pass
        except ssl.SSLCertVerificationError as exc:
            return f"TLS: the broker's certificate is not trusted ({exc.verify_message}; mqtt.ca_file = {self.ca_file!r})"
        except ssl.SSLError as exc:
            return f"TLS: {exc.reason or exc} (mqtt.tls, mqtt.port)"
        except OSError as exc:
            return exc.strerror or str(exc)
        return "the connection failed (the broker answers now)"

    def _on_connect_fail(self, client, userdata) -> None:
        self._report(f"MQTT: cannot connect to {self.host}:{self.port}: {self._diagnose()}")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            was_connected, self._connected = self._connected, False
        if was_connected:
            log.warning("MQTT: lost the broker %s:%d (%s); reconnecting with backoff", self.host, self.port, reason_code)
            if self.metrics is not None:
                self.metrics.error("mqtt", f"MQTT broker {self.host}:{self.port} connection lost: {reason_code}")

    def _send(self, changes: Dict[str, str]) -> None:
        """Publish `changes` (retained) if connected; what is not sent goes out on the next connection."""
        client = self._client
        if client is None:
            return
        for name, payload in changes.items():
            with self._lock:
                if not self._connected or self._published.get(name) == payload:
                    continue
                self._published[name] = payload
            client.publish(self.topics.state(name), payload, qos=1, retain=True)

    def write(self, frame: ProcessedFrame) -> None:
        now = time.monotonic()
        state = self.occupancy.update(now, frame.persons, frame.fully_protected)
        update = {"person": ON if state.person else OFF, "persons": str(state.persons),
                  "fail_safe": ON if state.fail_safe else OFF}
        if state.fps is not None:
            update["fps"] = f"{state.fps:g}"
        error = self.metrics.last_error() if self.metrics is not None else None
        if error is not None and error is not self._error:  # formatted once per error, not per frame
            self._error = error
            self._state_error = f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(error.time))} " \
                                f"{error.kind}: {error.message}"[:255]
        if self._error is not None:
            update["last_error"] = self._state_error
        with self._lock:
            changes = {k: v for k, v in update.items() if self._state.get(k) != v}
            self._state.update(update)
        self._send(changes)

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._connected:  # a clean goodbye: offline now, not after the keep-alive runs out
            client.publish(self.topics.availability, OFFLINE, qos=1, retain=True).wait_for_publish(timeout=2)
        client.disconnect()
        client.loop_stop()
        self._connected = False
