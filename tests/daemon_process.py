"""The daemon as a user runs it: `edge-bodypix serve` in its own process, with a real notify socket, and
the small clients the daemon tests share (a free loopback port, an HTTP GET)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import SHARED

VIDEO = SHARED / "videos" / "one-by-one-person-detection.mp4"
SCRIPT = os.path.join(os.path.dirname(sys.executable), "edge-bodypix")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, dict(response.headers), response.read()


class Daemon:
    def __init__(self, tmp_path, *args, env=None, realtime=False):
        self.port = free_port()
        self.notify_path = str(tmp_path / "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.5)
        self.messages = []
        environment = {**os.environ, "NOTIFY_SOCKET": self.notify_path, "WATCHDOG_USEC": "1000000", **(env or {})}
        self.process = subprocess.Popen(
            [SCRIPT, "serve", "--source", str(VIDEO), "--loop", *([] if realtime else ["--as-fast-as-possible"]),
             "--http", f"127.0.0.1:{self.port}",
             "--state-dir", str(tmp_path / "state"), "--log-level", "info", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, text=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, message, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(message in m for m in self.messages):
                return True
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except socket.timeout:
                assert self.process.poll() is None, self.process.stderr.read()
        return False

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
            self.notify.settimeout(0.1)
            while True:  # what the daemon said while stopping
                try:
                    self.messages.append(self.notify.recv(4096).decode())
                except (socket.timeout, OSError):
                    break
        finally:
            self.notify.close()
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.notify.close()
