"""The browser player: a real server process, a raw WebSocket client, and a real headless Chromium."""

import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("websockets.sync.client")

from web_helpers import Client, chromium, serving, wait_for  # noqa: E402


def test_server_page_protocol_bad_messages_and_disconnects(play_checkpoints, tmp_path):
    import cv2

    record = tmp_path / "recorded"
    with serving("--checkpoint", str(play_checkpoints["run"]), "--fps", "30", "--record", str(record)) as (url, log):
        assert url.startswith("http://127.0.0.1:")  # loopback only by default
        page = urllib.request.urlopen(url, timeout=30)
        assert page.headers["Content-Type"].startswith("text/html") and b"<canvas" in page.read()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "nothing", timeout=30)
        assert err.value.code == 404

        client = Client(url)
        assert client.hello["game"] == "Breakout" and client.hello["actions"] == ["NOOP", "FIRE", "RIGHT", "LEFT"]
        client.until(lambda: len(client.frames) >= 3, "frames")
        image = cv2.imdecode(np.frombuffer(client.frames[-1], np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (64, 64, 3)

        client.key("keydown", "ArrowLeft")
        client.until(lambda: client.headers[-1]["action"] == "LEFT", "the key to reach the world model")
        client.key("keyup", "ArrowLeft")
        client.key("keydown", "KeyC")
        client.until(lambda: client.headers[-1]["controller"] == "policy", "the policy to take over")
        client.key("keydown", "Equal")
        client.until(lambda: client.headers[-1]["horizon"] == 2000, "a longer horizon")

        client.key("keydown", "F13")
        client.ws.send("this is not JSON")
        client.ws.send(json.dumps({"type": "wiggle", "key": "KeyC"}))
        client.until(lambda: len(client.errors) >= 3, "error replies")
        assert "unknown key 'F13'" in client.errors[0]
        assert "could not read the message 'this is not JSON'" in client.errors[1]
        assert "unknown message type 'wiggle'" in client.errors[2]
        client.until(lambda: len(client.frames) >= 10, "frames to keep coming after bad messages")

        # a client vanishing mid-game (no closing handshake): its session ends, the server goes on
        client.ws.socket.shutdown(socket.SHUT_RDWR)
        client.ws.socket.close()
        wait_for(
            lambda: any("client 1" in line and "session is closed" in line for line in log), what="the disconnect log"
        )
        assert (record / "client-1" / "metadata.json").exists()  # what client 1 played was stored

        second, third = Client(url), Client(url)  # two tabs at once: each plays its own session
        second.until(lambda: len(second.frames) >= 3, "frames for a second client")
        third.until(lambda: len(third.frames) >= 3, "frames for a third client")
        third.key("keydown", "KeyM")
        third.until(lambda: third.headers[-1]["source"] == "test env", "the third client's source switch")
        second.pump(0.3)
        assert second.headers[-1]["source"] == "world model"  # not the other tab's
        third.ws.close()
        second.key("keydown", "KeyP")
        second.until(lambda: second.headers[-1]["paused"], "pause")
        second.pump(0.5)
        count = len(second.frames)
        second.pump(0.7)
        assert len(second.frames) == count  # paused: no new frames
        second.key("keydown", "KeyN")
        second.until(lambda: len(second.frames) == count + 1, "one step while paused")
        second.ws.close()
        wait_for(lambda: any("client 2" in line and "left after" in line for line in log), what="a clean leave")

    from diamond.play.dataset_browser import DatasetBrowser

    browser = DatasetBrowser([record / "client-1", record / "client-2", record / "client-3"])
    assert all(len(s) >= 1 for s in browser.stores)
    browser.close()


def _play_in_chromium(url: str, screenshot) -> dict:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver = chromium()
    try:
        driver.get(url)
        state = lambda: driver.execute_script("return window.diamond")  # noqa: E731
        wait_for(lambda: state()["framesReceived"] >= 3, 120, "frames in the page")
        assert state()["hello"]["game"] == "Breakout"
        ActionChains(driver).key_down(Keys.ARROW_LEFT).perform()
        wait_for(lambda: state()["header"]["action"] == "LEFT", 60, "the key press to reach the world model")
        ActionChains(driver).key_up(Keys.ARROW_LEFT).send_keys("c").perform()
        wait_for(lambda: state()["header"]["controller"] == "policy", 60, "the policy to take over")
        received = state()["framesReceived"]
        wait_for(lambda: state()["framesReceived"] >= received + 3, 60, "more frames")
        assert "Breakout | world model | policy" in driver.find_element("id", "header").text
        ActionChains(driver).send_keys("x").perform()
        wait_for(lambda: state()["errors"], 30, "the unknown-key message")
        assert "unknown key 'KeyX'" in driver.find_element("id", "error").text
        pixels = driver.execute_script(
            "const d = document.getElementById('screen').getContext('2d').getImageData(0, 0, 512, 512).data;"
            "let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i] + d[i+1] + d[i+2]; return s;"
        )
        assert pixels > 0  # frames were drawn on the canvas
        driver.save_screenshot(str(screenshot))
        return state()
    finally:
        driver.quit()


def test_chromium_plays_in_the_page(play_checkpoints, tmp_path):
    with serving("--checkpoint", str(play_checkpoints["run"]), "--fps", "20") as (url, log):
        state = _play_in_chromium(url, tmp_path / "page.png")
    assert state["framesReceived"] > 6 and not state["closed"]
    assert (tmp_path / "page.png").stat().st_size > 1000


def test_reference_conformance_checkpoint_plays_in_the_browser(conformance_dir, tmp_path):
    with serving(
        "--checkpoint", str(conformance_dir / "small_agent_reference_format.pt"), "--game", "Breakout", "--fps", "20"
    ) as (url, log):
        _play_in_chromium(url, tmp_path / "conformance.png")


def test_a_port_in_use_or_an_unknown_host_is_refused_in_one_line(play_checkpoints):
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for flags, reason in ((["--port", str(port)], "address already in use"), (["--host", "999.1.1.1"], "")):
            out = subprocess.run(
                [sys.executable, "-m", "diamond.cli", "play-web", "--checkpoint", str(play_checkpoints["run"])]
                + ["--device", "cpu", *flags],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
            last = out.stderr.splitlines()[-1]  # the error, alone on its line (the emulator prints a banner first)
            assert last.startswith("diamond play-web: error: --") and "cannot listen there" in last and reason in last
