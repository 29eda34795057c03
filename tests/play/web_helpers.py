"""What the browser-player tests share: a server subprocess, a raw WebSocket client, headless Chromium."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

websockets_sync = pytest.importorskip("websockets.sync.client")

CHROMIUM, CHROMEDRIVER = (
    shutil.which("chromium") or "/usr/bin/chromium",
    shutil.which("chromedriver") or "/usr/bin/chromedriver",
)


@contextlib.contextmanager
def serving(*args: str, timeout: float = 180, command: str = "play-web"):
    """`diamond COMMAND ... --port 0` in a subprocess; yields (url, log lines), stops the server after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "diamond.cli", command, "--port", "0", "--device", "cpu", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line.rstrip()) for line in proc.stderr], daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        url = None
        while url is None:
            assert proc.poll() is None, "the server exited:\n" + "\n".join(lines)
            assert time.monotonic() < deadline, "the server did not start:\n" + "\n".join(lines)
            url = next((m.group(1) for line in lines if (m := re.search(r"serving the player on (\S+)", line))), None)
            time.sleep(0.1)
        yield url, lines
        assert proc.poll() is None, "the server died:\n" + "\n".join(lines)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Client:
    """A raw WebSocket client that keeps the latest header, the frames and the errors it was sent."""

    def __init__(self, url: str) -> None:
        self._connection = websockets_sync.connect(url.replace("http://", "ws://") + "ws")
        self.ws = self._connection.__enter__()
        self.hello = json.loads(self.ws.recv(timeout=120))
        self.headers: list[dict] = []
        self.errors: list[str] = []
        self.frames: list[bytes] = []

    def pump(self, seconds: float = 0.2) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = self.ws.recv(timeout=0.05)
            except TimeoutError:
                continue
            if isinstance(msg, bytes):
                self.frames.append(msg)
            else:
                data = json.loads(msg)
                (self.errors.append(data["message"]) if data["type"] == "error" else self.headers.append(data))

    def until(self, predicate, what: str, timeout: float = 60):
        return wait_for(lambda: (self.pump(), predicate())[1], timeout, what)

    def key(self, kind: str, code: str) -> None:
        self.ws.send(json.dumps({"type": kind, "key": code}))


def chromium():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=800,800",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
