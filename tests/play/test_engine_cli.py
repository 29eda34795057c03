"""`diamond make-spawns` and `diamond play-engine` as real subprocesses (SDL's dummy video driver): a trained
project engine and the authors' CS:GO layout from an offline Hub cache both start and play; bad input gets
a message and exit status 2, no traceback."""

import json

import pytest

import cli_subprocess

pytest.importorskip("pygame")

HEADLESS = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "OMP_NUM_THREADS": "1"}


def ok(*args, env=None):
    return cli_subprocess.ok(*args, env={**HEADLESS, **(env or {})})


def error_of(*args, env=None) -> str:
    return cli_subprocess.error_of(*args, env={**HEADLESS, **(env or {})})


def test_spawns_from_a_dataset_then_play_in_a_window(engine_dataset, engine_checkpoint, tmp_path):
    out = ok("make-spawns", engine_dataset, tmp_path / "spawn", "--count", 2, "--next", 4)
    assert "wrote 2 spawn points" in out.stdout and sorted(p.name for p in (tmp_path / "spawn").iterdir()) == ["0", "1"]
    err = error_of("make-spawns", engine_dataset, tmp_path / "spawn", "--count", 2)
    assert "is not empty" in err

    shot, result = tmp_path / "shot.png", tmp_path / "play.json"
    args = ["--checkpoint", engine_checkpoint, "--spawn", tmp_path / "spawn", "--device", "cpu", "--frames", 3]
    ok(
        "play-engine",
        *args,
        "--screenshot",
        shot,
        "--json",
        result,
        "--record",
        tmp_path / "rec",
        "--precision",
        "bfloat16",
    )
    played = json.loads(result.read_text())
    assert played["frames"] == 3 and played["setting"] == "fast" and played["model_fps_median"] > 0
    assert played["precision"] == "bfloat16"
    assert shot.stat().st_size > 0
    assert (tmp_path / "rec" / "train" / "full_res").is_dir()


def test_the_authors_layout_plays_from_the_hub_cache(csgo_hub_cache, tmp_path):
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(csgo_hub_cache)}
    out = ok(
        "play-engine",
        "--from-hub",
        "csgo",
        "--device",
        "cpu",
        "--frames",
        1,
        "--json",
        tmp_path / "p.json",
        env=offline,
    )
    assert "pretrained csgo engine" in out.stderr and "2 spawn point(s)" in out.stderr
    assert json.loads((tmp_path / "p.json").read_text())["frames"] == 1


def test_bad_engines_and_spawn_folders_are_named(conformance_dir, engine_checkpoint, spawns, tmp_path):
    atari = conformance_dir / "small_agent_reference_format.pt"
    err = error_of("play-engine", "--checkpoint", atari, "--spawn", spawns[0].parent, "--frames", 1)
    assert "small_agent_reference_format.pt" in err
    err = error_of("play-engine", "--checkpoint", engine_checkpoint, "--frames", 1)
    assert "--spawn DIR is needed" in err and "diamond make-spawns" in err
    (tmp_path / "empty").mkdir()
    err = error_of("play-engine", "--checkpoint", engine_checkpoint, "--spawn", tmp_path / "empty", "--frames", 1)
    assert "holds no spawn points" in err
