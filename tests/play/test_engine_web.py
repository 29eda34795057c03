"""The engine's browser player: a real server process, a raw WebSocket client sending keys, mouse buttons and
relative motion (and bad messages), and a real headless Chromium that locks the pointer."""

import json
from pathlib import Path

import pytest

pytest.importorskip("websockets.sync.client")

from web_helpers import Client, chromium, serving, wait_for  # noqa: E402


def engine_server(engine_checkpoint, spawns, *extra):
    args = ["--checkpoint", str(engine_checkpoint), "--spawn", str(spawns[0].parent), "--fps", "20", *extra]
    return serving(*args, command="play-engine-web")


def send(client: Client, **message) -> None:
    client.ws.send(json.dumps(message))


def test_protocol_keys_mouse_bad_messages_and_disconnects(engine_checkpoint, spawns, tmp_path):
    with engine_server(engine_checkpoint, spawns, "--record", str(tmp_path / "rec")) as (url, log):
        client = Client(url)
        assert client.hello["engine"] is True and client.hello["spawns"] == ["0", "1", "2"]
        client.until(lambda: len(client.frames) >= 2, "frames")
        client.key("keydown", "KeyW")
        send(client, type="mousedown", button=0)
        send(client, type="mousemove", dx=25, dy=-8)
        send(client, type="mousemove", dx=10, dy=0)
        client.until(lambda: client.headers[-1]["held"] == ["w", "lmb"], "the held key and button")
        assert any(h["mouse"] == [30, -10] for h in client.headers), client.headers[-3:]
        client.until(lambda: client.headers[-1]["mouse"] == [0, 0], "the mouse at rest again")
        client.key("keydown", "KeyF")
        client.until(lambda: client.headers[-1]["setting"] == "higher_quality", "the quality toggle")
        client.key("keydown", "Tab")
        client.until(lambda: client.headers[-1]["spawn"] == 1, "the next spawn point")

        for bad, expected in (
            ("not json", "could not read the message"),
            (json.dumps({"type": "mousemove", "dx": "left"}), "expected numbers dx and dy"),
            (json.dumps({"type": "mousemove", "dx": 1e9, "dy": 0}), "within ±10000"),
            (json.dumps({"type": "scroll"}), "unknown message type 'scroll'"),
            (json.dumps({"type": "keydown", "key": "KeyX"}), "unknown key 'KeyX'"),
        ):
            client.ws.send(bad)
            client.until(lambda e=expected: any(e in m for m in client.errors), f"the error '{expected}'")
        frames = len(client.frames)
        client.until(lambda: len(client.frames) > frames + 2, "play to go on after bad messages")
        client.ws.close()  # mid-game, frames in flight

        wait_for(lambda: any("disconnected mid-game" in line or "left after" in line for line in log), 60, "the log")
        again = Client(url)  # the server goes on
        again.until(lambda: len(again.frames) >= 2, "frames for a new client")
        again.ws.close()
    assert (tmp_path / "rec" / "client-1" / "train" / "full_res").is_dir()


def vizdoom_processes() -> set[int]:
    """The pids of the running ViZDoom engine processes (the game each real-game session starts)."""
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"vizdoom" in (proc / "cmdline").read_bytes().split(b"\0")[0]:
                found.add(int(proc.name))
        except OSError:
            pass
    return found


def test_key_m_switches_a_tab_to_the_real_game_and_back(engine_checkpoint, spawns):
    pytest.importorskip("vizdoom")
    before = vizdoom_processes()
    with engine_server(engine_checkpoint, spawns, "--real-game", "deathmatch") as (url, log):
        client = Client(url)
        client.until(lambda: len(client.frames) >= 1, "frames")
        client.key("keydown", "KeyM")
        client.until(lambda: client.headers[-1]["world"] == "real", "the real game")
        assert any("new ViZDoom deathmatch" in h["message"] for h in client.headers)
        client.key("keydown", "KeyW")
        client.until(lambda: client.headers[-1]["held"] == ["w"] and client.headers[-1]["timestep"] >= 3, "real play")
        client.key("keyup", "KeyW")
        client.key("keydown", "KeyM")
        client.until(lambda: client.headers[-1]["world"] == "model", "the model again")
        assert any("real game's last frames" in h["message"] for h in client.headers)
        assert vizdoom_processes() - before  # the tab's game runs...
        client.ws.close()
    # ...and stopping the server (SIGTERM) ends it with the tab's session
    wait_for(lambda: not vizdoom_processes() - before, 30, "the real game's engine process to end")


def test_chromium_locks_the_pointer_and_plays(engine_checkpoint, spawns, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    with engine_server(engine_checkpoint, spawns) as (url, log):
        driver = chromium()
        try:
            driver.get(url)
            state = lambda: driver.execute_script("return window.diamond")  # noqa: E731
            wait_for(lambda: state()["framesReceived"] >= 2, 120, "frames in the page")
            canvas = driver.find_element("id", "screen")
            ActionChains(driver).move_to_element(canvas).click().perform()
            wait_for(lambda: state()["pointerLockRequested"] >= 1, 30, "the pointer-lock request")
            wait_for(lambda: state()["pointerLocked"], 30, "the pointer lock")
            ActionChains(driver).key_down("w").move_by_offset(40, 0).perform()
            wait_for(lambda: state()["movesSent"] >= 1, 30, "relative motion sent")
            wait_for(lambda: "w" in state()["header"]["held"], 60, "the key press to reach the engine")
            wait_for(lambda: any(x > 0 for x, _ in state()["mouseMoves"]), 60, "the mouse motion to reach the engine")
            received = state()["framesReceived"]
            wait_for(lambda: state()["framesReceived"] >= received + 3, 60, "more frames")
            header = driver.find_element("id", "header").text
            assert header.startswith("fast (1+1 steps) | spawn 1/3") and "keys w" in header
            assert driver.execute_script("return [canvas.width, canvas.height]") == [560, 300]
            driver.save_screenshot(str(tmp_path / "engine_page.png"))
        finally:
            driver.quit()
    assert (tmp_path / "engine_page.png").stat().st_size > 1000


def test_the_authors_layout_plays_in_the_browser_from_the_hub_cache(csgo_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(csgo_hub_cache))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with serving("--from-hub", "csgo", "--fps", "0", command="play-engine-web") as (url, log):
        client = Client(url)
        assert client.hello["spawns"] == ["0", "1"]
        client.until(lambda: len(client.frames) >= 2, "frames of the engine in the authors' layout", timeout=300)
        client.ws.close()
    assert any("pretrained csgo engine" in line for line in log)
