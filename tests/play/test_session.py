"""The player's game loop (no window): sources, controllers, horizon, recording, checkpoints, keymaps, browsing."""

import numpy as np
import pytest
import torch

from diamond.configs.schema import ConfigError
from diamond.envs import ATARI_100K_GAMES, MINATAR_GAMES
from diamond.play.dataset_browser import DatasetBrowser
from diamond.play.keymap import action_for, action_meanings, meaning_of, reachable
from diamond.play.models import load_play_models
from diamond.play.session import PlaySession


def test_meaning_of_combinations():
    assert meaning_of([]) == "NOOP"
    assert meaning_of(["left", "up", "fire"]) == "UPLEFTFIRE"
    assert meaning_of(["down", "right"]) == "DOWNRIGHT"
    assert meaning_of(["left", "right", "fire"]) == "FIRE"  # opposite directions cancel
    with pytest.raises(ValueError, match="unknown control"):
        meaning_of(["jump"])


def test_action_for_falls_back_to_what_the_game_has():
    breakout = ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert action_for({"left"}, breakout) == 3
    assert action_for({"left", "up"}, breakout) == 3  # no UPLEFT: the horizontal part is kept
    assert action_for({"right", "fire"}, breakout) == 2  # no RIGHTFIRE: fire is dropped first
    assert action_for({"up"}, breakout) == 0  # nothing fits: NOOP
    assert action_for({"fire", "up"}, breakout) == 1
    pong = ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    assert action_for({"left", "fire"}, pong) == 5


def test_every_action_of_every_atari_100k_game_is_reachable_from_the_keys():
    from diamond.envs import AtariConfig
    from diamond.envs.atari import AtariEnv

    for game in ATARI_100K_GAMES:
        env = AtariEnv(AtariConfig(game=game), kind="test", seed=0)
        meanings = action_meanings(env.protocol())
        env.close()
        assert len(meanings) == env.action_space.size
        assert set(reachable(meanings)) == set(meanings), game


def test_minatar_meanings_come_from_the_action_set():
    from diamond.envs import MinAtarConfig
    from diamond.envs.minatar import MinAtarEnv

    for game in MINATAR_GAMES:
        meanings = action_meanings(MinAtarEnv(MinAtarConfig(game=game)).protocol())
        assert meanings[0] == "NOOP" and set(reachable(meanings)) == set(meanings), game
    assert action_meanings({"env": "minatar", "action_set": [0, 1, 3]}) == ["NOOP", "LEFT", "RIGHT"]


@pytest.mark.parametrize("kind", ["run", "reference"])
def test_project_and_reference_checkpoints_give_the_same_networks(play_checkpoints, kind):
    models = load_play_models(play_checkpoints[kind], game=None if kind == "run" else "Breakout")
    ours = load_play_models(play_checkpoints["run"])
    assert models.kind == ("run" if kind == "run" else "reference layout")
    assert models.cfg.denoiser == ours.cfg.denoiser and models.action_space.size == 4
    for a, b in (
        (models.denoiser, ours.denoiser),
        (models.rew_end, ours.rew_end),
        (models.actor_critic, ours.actor_critic),
    ):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name


def test_bad_checkpoints_and_games_get_clear_errors(play_checkpoints, tmp_path):
    with pytest.raises(ConfigError, match="does not record its game; pass --game"):
        load_play_models(play_checkpoints["reference"])
    with pytest.raises(ConfigError, match="trained on Breakout; leave --game out"):
        load_play_models(play_checkpoints["run"], game="Pong")
    with pytest.raises(ValueError, match="Pacman"):
        load_play_models(play_checkpoints["reference"], game="Pacman")
    with pytest.raises(ValueError, match="is a folder holding none of checkpoints/agent.pt"):
        load_play_models(tmp_path)
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(play_checkpoints["reference"].read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_play_models(truncated, game="Breakout")
    models = load_play_models(play_checkpoints["reference"], game="Pong")  # loads: the mismatch shows with the env
    with pytest.raises(
        ConfigError,
        match=r"trained with 4 actions, but Pong has 6 \(NOOP, FIRE, RIGHT, LEFT, "
        r"RIGHTFIRE, LEFTFIRE\)",
    ):
        PlaySession(models)


def test_world_model_steps_follow_the_keys_and_the_policy(play_checkpoints):
    session = PlaySession(load_play_models(play_checkpoints["run"]), seed=3)
    try:
        first = session.frame
        assert first.source == "world model" and first.obs.shape == (3, 64, 64) and first.obs.dtype == np.uint8
        frame = session.step({"left"})
        assert frame.action_name == "LEFT" and frame.action == 3
        assert session.toggle_controller() == "controller: policy"
        actions = {session.step({"left"}).action for _ in range(12)}
        assert len(actions) > 1  # the (random) policy samples, whatever keys are held
        assert session.toggle_controller() == "controller: human"
        assert session.step({"fire"}).action_name == "FIRE"
    finally:
        session.close()


def test_world_model_steps_in_the_chosen_precision(play_checkpoints):
    from diamond.errors import InvalidValue

    frames, dtypes = {}, {}
    for precision in ("float32", "bfloat16"):
        models = load_play_models(play_checkpoints["run"]).with_precision(precision)
        assert models.precision == precision
        seen = []
        conv = next(m for m in models.denoiser.modules() if isinstance(m, torch.nn.Conv2d))
        hook = conv.register_forward_hook(lambda module, args, out, seen=seen: seen.append(out.dtype))
        session = PlaySession(models, seed=3)
        try:
            frames[precision] = [session.step({"left"}).obs for _ in range(3)]
        finally:
            session.close()
            hook.remove()
        dtypes[precision] = set(seen)
        assert all(f.dtype == np.uint8 and f.shape == (3, 64, 64) for f in frames[precision])
    assert dtypes == {"float32": {torch.float32}, "bfloat16": {torch.bfloat16}}
    for a, b in zip(frames["float32"], frames["bfloat16"]):  # the same frames up to bfloat16's rounding
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 2
    with pytest.raises(InvalidValue, match="--precision 'float16' is for CUDA devices"):
        load_play_models(play_checkpoints["run"]).with_precision("float16")
    with pytest.raises(InvalidValue, match="--precision 'half' is unknown; expected one of float32, bfloat16"):
        load_play_models(play_checkpoints["run"]).with_precision("half")


def test_horizon_cuts_imagined_episodes_and_can_change(play_checkpoints):
    models = load_play_models(play_checkpoints["world_model"], game="Breakout")  # no reward model: no ending
    assert models.rew_end is None and models.actor_critic is None
    session = PlaySession(models, horizon=5)
    try:
        assert "no policy" in session.toggle_controller() and session.controller == "human"
        steps = [session.step(()) for _ in range(5)]
        assert [f.timestep for f in steps] == [1, 2, 3, 4, 0]
        assert steps[-1].trunc and "horizon" in steps[-1].message
        assert session.change_horizon(+1) == "imagination horizon: 10"
        assert session._world_model().horizon == 10
        assert [session.step(()).timestep for _ in range(10)][-1] == 0
        session.change_horizon(-1)
        session.change_horizon(-1)
        assert session.horizon == 5 and session.change_horizon(-1) == "imagination horizon: 5"  # the shortest
    finally:
        session.close()


def test_sources_fork_pause_reset_and_recording_to_a_browsable_dataset(play_checkpoints, tmp_path):
    record = tmp_path / "recorded"
    models = load_play_models(play_checkpoints["world_model"], game="Breakout")  # imagined episodes end at the horizon
    session = PlaySession(models, seed=1, record=record)
    try:
        for _ in range(3):
            session.step({"right"})
        frame = session.next_source()
        assert frame.source == "test env" and frame.timestep == 0
        real = [session.step({"fire"}) for _ in range(6)]
        assert [f.timestep for f in real] == [1, 2, 3, 4, 5, 6]
        seen = [obs for obs, _ in session.history]
        assert session.next_source().source == "train env"
        last_real = session.step({"left"}).obs
        # back to the world model, forked from the train env's frames: they are its context
        frame = session.next_source()
        assert frame.source == "world model" and "continuing from the real game" in frame.message
        assert np.array_equal(frame.obs, last_real) and np.array_equal(session._context_frames[-1][0], last_real)
        assert [a for _, a in session._context_frames] == [3, 0]  # LEFT was taken in the frame before
        assert session.toggle_pause().startswith("paused") and session.paused
        frame = session.step(())  # single step while paused
        assert frame.timestep == 1 and not np.array_equal(frame.obs, last_real)
        session.reset()
        assert session.frame.timestep == 0
    finally:
        session.close()
    assert len(seen) == 4
    browser = DatasetBrowser([record])
    try:
        store = browser.stores[0]
        sources = [store.get(i).info["source"] for i in range(len(store))]
        assert sources[:4] == ["world model", "test env", "train env", "world model"]
        assert [len(store.get(i)) for i in range(4)] == [3, 6, 1, 1]
        assert store.get(1).act.tolist() == [1] * 6 and store.get(0).act.tolist() == [2] * 3
        assert store.get(0).trunc[-1] == 1  # cut short by switching source
        browser.move_episode(1)
        view = browser.view()
        assert (view.episode, view.timestep, view.action_name, view.note.split(",")[0]) == (
            1,
            0,
            "FIRE",
            "source=test env",
        )
        browser.move_step(10)
        assert browser.view().timestep == 6 and browser.view().action_name == "-"  # stops at the final frame
        browser.move_step(-10)
        assert browser.view().timestep == 0
    finally:
        browser.close()


def test_dataset_browser_moves(breakout_stores, tmp_path):
    train, test = breakout_stores
    with pytest.raises(ValueError, match="does not exist"):
        DatasetBrowser([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not an episode store"):
        DatasetBrowser([tmp_path / "empty"])
    browser = DatasetBrowser([train, test])
    try:
        browser.move_step(1)
        browser.move_step(10)
        v = browser.view()
        assert (v.dataset_index, v.episode, v.timestep) == (0, 0, 11)
        assert np.array_equal(v.obs, browser.stores[0].get(0).obs[11])
        assert v.return_so_far == float(browser.stores[0].get(0).rew[:11].sum())
        browser.to_start()
        assert browser.view().timestep == 0
        browser.move_episode(-1)
        assert browser.view().episode == len(browser.stores[0]) - 1  # wraps around
        browser.move_dataset(1)
        v = browser.view()
        assert (v.dataset_index, v.episode, v.timestep, v.num_datasets) == (1, 0, 0, 2)
        browser.move_dataset(1)
        assert browser.view().dataset_index == 0
    finally:
        browser.close()


def test_a_gymnasium_world_model_plays_with_env_gym(tmp_path):
    from diamond.checkpoints.project import save_checkpoint
    from diamond.configs.presets import world_model_config
    from diamond.configs.schema import to_dict
    from diamond.models.diffusion.denoiser import Denoiser

    wm_cfg = world_model_config("tiny", None, ["denoiser.net.action_space.size=2"])  # CartPole: push left or right
    path = tmp_path / "cartpole_world_model.pt"
    save_checkpoint(path, to_dict(wm_cfg), denoiser=Denoiser(wm_cfg.denoiser).state_dict(), step=0)
    models = load_play_models(path, game="CartPole-v1", env="gym")
    assert (models.cfg.env.family, models.cfg.env.game) == ("gym", "CartPole-v1")
    session = PlaySession(models, horizon=3)
    try:
        frames = [session.step((), action=1) for _ in range(3)]
        assert [f.timestep for f in frames] == [1, 2, 0] and frames[0].obs.shape == (3, 64, 64)
        real = session.next_source()  # the real CartPole, drawn from its rgb_array render
        assert real.obs.shape == (3, 64, 64) and real.obs.max() > 0
    finally:
        session.close()
