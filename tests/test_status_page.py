"""The status page (`/`) in a real headless browser: Debian's Chromium driven by Playwright, against a
real daemon process with a token. Sign-in, live view, moving counters, the token enforced."""

import json
import os
import shutil
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from daemon_process import Daemon

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (the dev extra) drives the browser")
CHROMIUM = next((path for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if path and os.path.exists(path)), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (apt install chromium)")]
TOKEN = "3f9c2a7d1e8b4c60"
SCREENSHOT = ROOT / "docs" / "status-page.png"
# Chromium as root in a sandboxless CI container, and without its calls home (refused here, slow to fail)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def wait_until(page, expression, timeout=30.0):
    """Poll a JavaScript expression from here (Playwright's own wait_for_function evals inside the page,
    which the page's Content-Security-Policy rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def status_code(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def daemon(tmp_path):
    instance = Daemon(tmp_path, "--token", TOKEN, realtime=True)
    assert instance.wait_for("READY=1"), instance.messages
    yield instance
    instance.kill()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_the_page_needs_the_token_then_shows_the_live_view_and_moving_counters(daemon, browser):
    page = browser.new_page(viewport={"width": 1100, "height": 1250})
    api_calls, console_errors = [], []
    page.on("response", lambda r: api_calls.append((r.url.rsplit("/", 1)[-1], r.status)))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    # without the token: the sign-in form only, and the data behind it stays closed
    response = page.goto(daemon.url("/"))
    assert response.status == 401
    assert page.locator("form input[name=token]").is_visible()
    assert page.locator("#persons").count() == 0
    page.fill("input[name=token]", "not-the-token")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong token."
    # with it: the status page, its live view and figures
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("#persons")
    wait_until(page, "document.getElementById('live').dataset.frameIndex !== undefined")
    wait_until(page, "document.getElementById('frames').textContent !== '–'")
    first_frame = int(page.get_attribute("#live", "data-frame-index"))
    first_count = int(page.inner_text("#frames"))
    page.wait_for_timeout(2500)
    assert int(page.get_attribute("#live", "data-frame-index")) > first_frame  # the live view updates
    assert int(page.inner_text("#frames")) > first_count  # and the counters move
    assert page.evaluate("document.getElementById('live').naturalWidth") == 768  # a real decoded picture
    assert page.inner_text("#health") == "protecting"
    assert page.inner_text("#model") == "bodypix_mobilenet_v1_075_720_1280_16_quant"
    assert page.inner_text("#accelerator") == "CPU" and page.inner_text("#selftest") == "passed"
    wait_until(page, "document.getElementById('fps').textContent !== '–'")  # after the first 5 s window
    assert float(page.inner_text("#fps")) > 5 and page.inner_text("#inference").endswith(" ms")
    assert page.inner_text("#fail-safe") == "0"
    config = page.inner_text("#config")
    assert "http.token\t\"(set)\"" in config and TOKEN not in page.content()  # the secret is not on the page
    assert "privacy.effect\t\"blur-faces\"" in config
    assert ("status.json", 200) in api_calls and ("snapshot.jpg", 200) in api_calls
    assert not [call for call in api_calls if call[1] >= 400 and call[0] not in ("login", "")]
    # the page runs under its own Content-Security-Policy (no inline script, no eval, no CDN)
    assert [e for e in console_errors if "401" not in e] == []
    wait_until(page, "Number(document.getElementById('persons').textContent) > 0")
    page.wait_for_timeout(300)  # the live view catches up with the figures
    shot = page.screenshot(full_page=True)
    if os.environ.get("EDGE_BODYPIX_UPDATE_SCREENSHOT"):  # refresh docs/status-page.png
        SCREENSHOT.write_bytes(shot)
    # another browser (no cookie) is still refused everything but the form; the cookie is HttpOnly
    assert page.evaluate("document.cookie") == ""
    stranger = browser.new_page()
    assert stranger.goto(daemon.url("/status.json")).status == 401
    assert stranger.goto(daemon.url("/snapshot.jpg")).status == 401
    assert stranger.goto(daemon.url("/")).status == 401
    # ?token= in a link signs in and leaves the address bar without it
    assert stranger.goto(daemon.url(f"/?token={TOKEN}")).status == 200
    assert stranger.url == daemon.url("/")
    wait_until(stranger, "document.getElementById('frames').textContent !== '–'")


def test_everything_but_the_form_health_and_page_assets_needs_the_token(daemon):
    for path in ("/status.json", "/snapshot.jpg", "/stream.mjpg", "/metrics"):
        assert status_code(daemon.url(path)) == 401, path
        assert status_code(daemon.url(path), {"Cookie": "edge_bodypix_token=wrong"}) == 401, path
    assert status_code(daemon.url("/status.json"), {"Authorization": f"Bearer {TOKEN}"}) == 200
    assert status_code(daemon.url("/status.json"), {"Cookie": f"edge_bodypix_token={TOKEN}"}) == 200
    for path in ("/static/status.css", "/static/status.js", "/healthz"):
        assert status_code(daemon.url(path)) == 200, path
    assert status_code(daemon.url("/static/../config.toml")) == 401
    with urllib.request.urlopen(urllib.request.Request(daemon.url("/status.json"),
                                                       headers={"Authorization": f"Bearer {TOKEN}"})) as response:
        status = json.loads(response.read())
    assert status["config"]["http"]["token"] == "(set)" and TOKEN not in json.dumps(status)
    assert {"persons", "fps", "inference_ms", "model", "backend", "accelerator", "fail_safe_frames", "errors",
            "recent_errors", "uptime_s", "config"} <= set(status)
