"""systemd integration without dependencies: sd_notify messages and the watchdog interval."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Optional

log = logging.getLogger(__name__)


class Notifier:
    """Sends READY=1, STATUS=..., WATCHDOG=1 and STOPPING=1 to $NOTIFY_SOCKET (a no-op without it)."""

    def __init__(self, address: Optional[str] = None, watchdog_usec: Optional[str] = None):
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        usec = watchdog_usec if watchdog_usec is not None else os.environ.get("WATCHDOG_USEC", "")
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 0.0
        self._socket: Optional[socket.socket] = None
        self._last_ping = 0.0
        self._failing = False
        if self.address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            # never wait for the reader: a manager that is busy (or a test that is not reading) must not
            # stall the frame loop; a message that does not fit is dropped, and the next one tried
            self._socket.setblocking(False)

    def send(self, message: str) -> None:
        if self._socket is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self._socket.sendto(message.encode(), target)
        except OSError as exc:  # systemd gone or its queue full: keep running, say so once
            if not self._failing:
                log.warning("sd_notify %r failed: %s (further failures are not logged until one succeeds)",
                            message, exc)
            self._failing = True
            return
        if self._failing:
            log.info("sd_notify works again")
        self._failing = False

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def watchdog(self, now: Optional[float] = None) -> None:
        """Ping the watchdog, at most twice per WatchdogSec (every loop may call it)."""
        if self._socket is None:
            return
        now = time.monotonic() if now is None else now
        interval = self.watchdog_interval or 1.0
        if now - self._last_ping >= interval:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
