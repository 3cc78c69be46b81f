"""Which addresses the systemd unit lets the daemon reach (`service.ip_address_allow`), and the drop-in that says so.

The unit denies every address but its allow list (systemd's IPAddressDeny=any,
IPAddressAllow=). The default allows loopback only, which blocks network cameras
on the LAN and every remote HTTP client. The list is a config choice: the
installer turns it into a drop-in, and `--check-config` (and the start under
systemd) refuses a configuration whose camera or clients the list would block,
instead of a daemon that silently never receives a frame.
"""

from __future__ import annotations

import ipaddress
from typing import List, Optional, Sequence, Tuple, Union

from .config import Config, ConfigError, is_loopback, split_listen
from .sources.base import stream_host

# systemd's symbolic names (systemd.resource-control(5)) and the networks they stand for
KEYWORDS = {
    "any": ("0.0.0.0/0", "::/0"),
    "localhost": ("127.0.0.0/8", "::1/128"),
    "link-local": ("169.254.0.0/16", "fe80::/64"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
}
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_allow(text: str) -> Tuple[str, ...]:
    """The entries of `service.ip_address_allow` (space-separated, as systemd writes them), each checked."""
    entries = tuple(text.split())
    if not entries:
        raise ConfigError("service.ip_address_allow is empty: use 'localhost', 'any' or addresses such as "
                          "'localhost 192.168.1.0/24'")
    for entry in entries:
        if entry in KEYWORDS:
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"service.ip_address_allow entry {entry!r} is not an address, a network "
                              f"(192.168.1.0/24) or one of {', '.join(KEYWORDS)}") from None
    return entries


def networks(entries: Sequence[str]) -> List[Network]:
    """The networks the entries stand for (keywords expanded)."""
    return [ipaddress.ip_network(n, strict=False) for entry in entries for n in KEYWORDS.get(entry, (entry,))]


def allowed(address: str, entries: Sequence[str]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in networks(entries))


def _literal(host: str) -> Optional[str]:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def blocked(config: Config) -> List[str]:
    """What the allow list would block under the unit: one sentence per problem (empty: nothing)."""
    entries = parse_allow(config.service.ip_address_allow)
    shown = config.service.ip_address_allow
    problems = []
    peers = [("source.uri", stream_host(config.source.uri), "the camera's"),
             ("mqtt.host", config.mqtt.host or None, "the broker's")]
    for key, host, whose in peers:
        if host is None:
            continue
        address = _literal(host) or ("127.0.0.1" if host == "localhost" else None)
        if address is None and "any" not in entries:
            problems.append(f"{key} names the host {host!r}, but service.ip_address_allow = {shown!r} lists "
                            f"addresses only: give {whose} address (or its network) there, or 'any'")
        elif address is not None and not allowed(address, entries):
            problems.append(f"{key} is at {address}, which service.ip_address_allow = {shown!r} blocks under "
                            f"the systemd unit: add {address} (or its network) to service.ip_address_allow")
    remote = [n for n in networks(entries) if not n.is_loopback]
    for key, listen, example in (("http.listen", config.http.listen, "127.0.0.1:8080"),
                                 ("rtsp.listen", config.rtsp.listen, "127.0.0.1:8554")):
        if listen and not is_loopback(split_listen(listen, key, example)[0]) and not remote:
            problems.append(f"{key} = {listen!r} serves other machines, but service.ip_address_allow "
                            f"= {shown!r} lets only this one connect under the systemd unit: add the clients' network "
                            "(e.g. 192.168.1.0/24) or 'any'")
    return problems


def dropin(config: Config, origin: str = "") -> str:
    """The unit drop-in (/etc/systemd/system/edge-bodypix.service.d/network.conf) for `service.ip_address_allow`."""
    entries = " ".join(parse_allow(config.service.ip_address_allow))
    source = f" from {origin}" if origin else ""
    return (f"# Written by `edge-bodypix serve --systemd-dropin`{source}: service.ip_address_allow.\n"
            "# Edit the config, not this file, then run systemd/install.sh (or write this again) and\n"
            "# `systemctl daemon-reload && systemctl restart edge-bodypix`.\n"
            "[Service]\n"
            "IPAddressAllow=\n"  # empty: forget the unit's own list, then set ours
            f"IPAddressAllow={entries}\n")
