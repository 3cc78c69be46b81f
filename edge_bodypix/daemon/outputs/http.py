"""The status page, MJPEG stream, JPEG snapshot, Prometheus metrics and health over HTTP.

Binds to loopback by default; beyond it a token is required (`?token=`,
`Authorization: Bearer` or, for browsers, the cookie the sign-in form sets).
Only `/healthz`, the sign-in form and the page's own CSS/JS are open without it.
The server sends frames from memory only and reads no files while serving:
the page's files are read from the package once, at start.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from .base import Output, OutputError, ProcessedFrame, host_port

log = logging.getLogger(__name__)
BOUNDARY = "edgebodypixframe"
COOKIE = "edge_bodypix_token"
MAX_FORM_BYTES = 4096
# the page's files (package data, edge_bodypix/daemon/web): name -> content type
WEB_FILES = {"status.html": "text/html; charset=utf-8", "login.html": "text/html; charset=utf-8",
             "status.css": "text/css; charset=utf-8", "status.js": "text/javascript; charset=utf-8",
             "favicon.svg": "image/svg+xml"}
ASSETS = ("status.css", "status.js", "favicon.svg")  # open without the token: no data in them
PAGE_HEADERS = [("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'"),
                ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]


def web_files() -> Dict[str, bytes]:
    """The status page's HTML, CSS and JavaScript from the package (no CDN, no build step)."""
    folder = resources.files("edge_bodypix.daemon").joinpath("web")
    return {name: folder.joinpath(name).read_bytes() for name in WEB_FILES}


def frame_headers(frame: ProcessedFrame) -> List[Tuple[str, str]]:
    """Headers every frame carries (snapshot responses and each MJPEG part): a client can tell
    a fail-safe black frame (`X-Fully-Protected: 1`) from a normal one."""
    return [("X-Frame-Index", str(frame.index)), ("X-Persons", str(frame.persons)),
            ("X-Fully-Protected", "1" if frame.fully_protected else "0")]


MAX_CLIENTS = 16  # concurrent connections (one thread each), well under the unit's TasksMax=64
IDLE_TIMEOUT_S = 5.0  # a client silent this long (no request, or not reading its stream) is dropped
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 5\r\n\r\n"


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, but at most MAX_CLIENTS of them: further connections get a
    503 from the accepting thread at once, before any thread or buffer is spent on them."""

    daemon_threads = True
    request_queue_size = 64  # a burst is accepted (and, past the limit, refused) at once, not left in SYN retries

    def __init__(self, *args, **kwargs):
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(0.5)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _IPv6Server(_BoundedServer):
    address_family = socket.AF_INET6


class HttpOutput(Output):
    def __init__(self, host: str, port: int, token: str = "", metrics=None,
                 health: Optional[Callable[[], dict]] = None, stale_after_s: float = 5.0,
                 status: Optional[Callable[[], dict]] = None):
        self.host, self.port, self.token = host, port, token
        self.metrics = metrics
        self.health = health
        self.status = status
        self._web: Dict[str, bytes] = {}
        self.stale_after_s = stale_after_s
        self._latest: Optional[ProcessedFrame] = None
        self._condition = threading.Condition()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    @property
    def address(self):
        return self._server.server_address if self._server else (self.host, self.port)

    def start(self) -> None:
        output = self
        self._web = web_files()

        class Handler(BaseHTTPRequestHandler):
            server_version = "edge-bodypix"
            protocol_version = "HTTP/1.1"
            timeout = IDLE_TIMEOUT_S

            def log_message(self, fmt, *args):  # route access logs to our logger
                log.debug("http %s - %s", self.address_string(), fmt % args)

            def do_GET(self):  # noqa: N802 - http.server's naming
                output._handle(self)

            def do_POST(self):  # noqa: N802
                output._handle_post(self)

        server_class = _IPv6Server if ":" in self.host else _BoundedServer
        try:
            self._server = server_class((self.host, self.port), Handler)
        except OSError as exc:
            where = host_port(self.host, self.port)
            raise OutputError(f"http.listen = {where!r}: cannot listen there ({exc.strerror or exc})") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()
        log.info("HTTP on http://%s:%d (status page /, /stream.mjpg, /snapshot.jpg, /status.json, /metrics, /healthz)",
                 *self.address[:2])

    def write(self, frame: ProcessedFrame) -> None:
        with self._condition:
            self._latest = frame
            self._condition.notify_all()

    def stop(self) -> None:
        self._stopping = True
        with self._condition:
            self._condition.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- request handling -----------------------------------------------------------------
    def _token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def _authorised(self, handler: BaseHTTPRequestHandler, query: dict) -> bool:
        if not self.token:
            return True
        offered = query.get("token", [""])[0]
        header = handler.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            offered = header[len("Bearer "):]
        elif not offered:
            try:
                morsel = SimpleCookie(handler.headers.get("Cookie", "")).get(COOKIE)
            except CookieError:
                morsel = None
            offered = morsel.value if morsel is not None else ""
        return self._token_matches(offered)

    def _send(self, handler, status: int, body: bytes, content_type: str, frame: Optional[ProcessedFrame] = None,
              headers: Tuple[Tuple[str, str], ...] = ()) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in headers:
            handler.send_header(name, value)
        if frame is not None:  # which capture this is, for clients and tests
            for name, value in frame_headers(frame):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        if url.path.startswith("/static/") and url.path[len("/static/"):] in ASSETS:
            name = url.path[len("/static/"):]
            self._send(handler, HTTPStatus.OK, self._web[name], WEB_FILES[name])
            return
        if url.path == "/":
            self._page(handler, query)
            return
        if url.path != "/healthz" and not self._authorised(handler, query):
            self._send(handler, HTTPStatus.UNAUTHORIZED, b"token required\n", "text/plain")
            return
        if url.path == "/healthz":
            self._healthz(handler, detailed=self._authorised(handler, query))
        elif url.path == "/metrics":
            body = self.metrics.render().encode() if self.metrics else b""
            self._send(handler, HTTPStatus.OK, body, "text/plain; version=0.0.4")
        elif url.path == "/snapshot.jpg":
            frame = self._latest
            if frame is None:
                self._send(handler, HTTPStatus.SERVICE_UNAVAILABLE, b"no frame yet\n", "text/plain")
            else:
                self._send(handler, HTTPStatus.OK, frame.jpeg(), "image/jpeg", frame)
        elif url.path == "/stream.mjpg":
            self._stream(handler)
        elif url.path == "/status.json":
            body = json.dumps(self.status() if self.status else {}, default=str).encode()
            self._send(handler, HTTPStatus.OK, body, "application/json")
        else:
            self._send(handler, HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _login_form(self, handler, status: int, message: str = "") -> None:
        body = self._web["login.html"].replace(b"{message}", message.encode())
        self._send(handler, status, body, WEB_FILES["login.html"], headers=tuple(PAGE_HEADERS))

    def _signed_in(self, handler, path: str = "/") -> None:
        """303 to `path`, setting the cookie that carries the token for the page's own requests."""
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        self._send(handler, HTTPStatus.SEE_OTHER, b"", "text/plain", headers=(("Location", path), ("Set-Cookie", cookie)))

    def _page(self, handler, query: dict) -> None:
        """`/`: the status page, or the sign-in form without the token; `/?token=` signs in and drops it from the URL."""
        if self.token and query.get("token") and self._token_matches(query["token"][0]):
            self._signed_in(handler)
        elif self._authorised(handler, {}):
            self._send(handler, HTTPStatus.OK, self._web["status.html"], WEB_FILES["status.html"],
                       headers=tuple(PAGE_HEADERS))
        else:
            self._login_form(handler, HTTPStatus.UNAUTHORIZED)

    def _handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        if urlsplit(handler.path).path != "/login":
            self._send(handler, HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
            return
        try:
            length = int(handler.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FORM_BYTES:
            handler.close_connection = True
            self._send(handler, HTTPStatus.BAD_REQUEST, b"bad form\n", "text/plain")
            return
        form = parse_qs(handler.rfile.read(length).decode("utf-8", "replace"))
        if not self.token or self._token_matches(form.get("token", [""])[0]):
            self._signed_in(handler)
        else:
            log.warning("http: wrong token from %s at the sign-in form", handler.address_string())
            self._login_form(handler, HTTPStatus.UNAUTHORIZED, "Wrong token.")

    def _healthz(self, handler, detailed: bool = True) -> None:
        """Status for probes (open to all); frame counts and model only with the token."""
        frame = self._latest
        age = time.monotonic() - frame.timestamp if frame else None
        healthy = age is not None and age <= self.stale_after_s
        body = {"status": "ok" if healthy else "stale", "last_frame_age_s": None if age is None else round(age, 3)}
        details = self.health() if self.health else {}
        if details.get("selftest", "passed") != "passed":  # frames flow, but black: not healthy
            healthy, body["status"] = False, f"selftest {details['selftest']}"
        if detailed:
            body.update(details)
        status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
        self._send(handler, status, (json.dumps(body) + "\n").encode(), "application/json")

    def _stream(self, handler) -> None:
        handler.send_response(HTTPStatus.OK)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Connection", "close")
        handler.end_headers()
        last_index = -1
        try:
            while not self._stopping:
                with self._condition:
                    self._condition.wait_for(lambda seen=last_index: self._stopping or (
                        self._latest is not None and self._latest.index != seen), timeout=5.0)
                    frame = self._latest
                if self._stopping:
                    break
                if frame is None or frame.index == last_index:
                    continue
                last_index = frame.index
                data = frame.jpeg()
                part_headers = "".join(f"{name}: {value}\r\n" for name, value in frame_headers(frame))
                handler.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n{part_headers}"
                                    f"Content-Length: {len(data)}\r\n\r\n".encode())
                handler.wfile.write(data)
                handler.wfile.write(b"\r\n")
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # client went away
        handler.close_connection = True
