"""MQTT topics of one camera and Home Assistant's MQTT discovery messages for them (pure: topics and JSON).

Home Assistant creates a device with these entities from retained messages
under `<discovery_prefix>/<component>/<node_id>/<object_id>/config`
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): no YAML on
the user's side. Every entity shares the camera's availability topic, which the
broker sets to "offline" (the client's last will) when the daemon vanishes.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from typing import Dict, List, Tuple

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"


def default_device_id() -> str:
    """This machine's host name as an MQTT/Home Assistant id (letters, digits, - and _)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "edge-bodypix"


@dataclass(frozen=True)
class Topics:
    """Where one camera's state lives: `<prefix>/<device_id>/<name>`."""

    prefix: str
    device_id: str

    def state(self, name: str) -> str:
        return f"{self.prefix}/{self.device_id}/{name}"

    @property
    def availability(self) -> str:
        return self.state("availability")


# (component, object id, name, the state topic's name, extra discovery fields)
ENTITIES: Tuple[Tuple[str, str, str, str, Dict[str, object]], ...] = (
    ("binary_sensor", "person", "Person", "person",
     {"device_class": "occupancy", "payload_on": ON, "payload_off": OFF}),
    ("sensor", "persons", "People in frame", "persons",
     {"state_class": "measurement", "unit_of_measurement": "persons", "icon": "mdi:account-group"}),
    ("binary_sensor", "fail_safe", "Fail-safe (frames blacked out)", "fail_safe",
     {"device_class": "problem", "payload_on": ON, "payload_off": OFF, "entity_category": "diagnostic"}),
    ("sensor", "fps", "Frame rate", "fps",
     {"state_class": "measurement", "unit_of_measurement": "fps", "icon": "mdi:speedometer",
      "entity_category": "diagnostic"}),
    ("sensor", "last_error", "Last error", "last_error",
     {"icon": "mdi:alert-circle-outline", "entity_category": "diagnostic"}),
)


def discovery_messages(topics: Topics, discovery_prefix: str, model: str, version: str,
                       configuration_url: str = "") -> List[Tuple[str, str]]:
    """(topic, retained JSON payload) for every entity of this camera."""
    device = {"identifiers": [f"edge-bodypix-{topics.device_id}"], "name": f"edge-bodypix {topics.device_id}",
              "manufacturer": "edge-bodypix", "model": model, "sw_version": version}
    if configuration_url:
        device["configuration_url"] = configuration_url
    messages = []
    for component, object_id, name, state, extra in ENTITIES:
        payload = {"name": name, "unique_id": f"edge-bodypix-{topics.device_id}-{object_id}",
                   "object_id": f"edge_bodypix_{topics.device_id}_{object_id}",
                   "state_topic": topics.state(state), "availability_topic": topics.availability,
                   "payload_available": ONLINE, "payload_not_available": OFFLINE, "device": device, **extra}
        messages.append((f"{discovery_prefix}/{component}/{topics.device_id}/{object_id}/config",
                         json.dumps(payload, sort_keys=True)))
    return messages
