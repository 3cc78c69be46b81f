"""Which addresses a set of processes listens on (TCP), read from /proc: no psutil, no `ss`."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Callable, Dict, Iterable, Set

LISTEN = "0A"  # TCP state in /proc/net/tcp{,6}


def processes(match: Callable[[str], bool]) -> Dict[int, str]:
    """{pid: command line} of the running processes whose command line `match`es."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if match(command):
                found[int(entry.name)] = command
    return found


def descendants(pid: int) -> Set[int]:
    """`pid` and every process below it."""
    children: Dict[int, Set[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, set()).add(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(children.get(current, ()))
    return found


def _address(hex_address: str) -> ipaddress._BaseAddress:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.ip_address(socket.inet_ntop(socket.AF_INET, raw[::-1]))
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))  # four host-order 32-bit words
    address = ipaddress.ip_address(socket.inet_ntop(socket.AF_INET6, words))
    return address.ipv4_mapped or address


def listening(pids: Iterable[int]) -> Set[ipaddress._BaseAddress]:
    """Local addresses of the TCP sockets in LISTEN state that these processes hold."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:  # gone meanwhile
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.add(_address(fields[1].split(":")[0]))
    return found
