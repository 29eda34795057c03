"""ViZDoom as a first-person shooter with the CS:GO keyboard-and-mouse actions (spec §10 layout, fps_actions).

Each step takes one 51-entry action vector and plays ``tics_per_frame`` Doom tics (Doom runs at 35 tics/s;
2 tics per frame gives 17.5 frames/s, close to the 16 Hz of the CS:GO dataset). Keys and buttons map to
ViZDoom buttons (``KEY_BUTTONS``); the mouse bins drive the two delta buttons:

- horizontal: a bin of value v turns the view by v × MOUSE_DEGREES_PER_UNIT degrees during the frame,
  positive = to the right, as a mouse moved right (±1000 → ±50°, ±2 → ±0.1°);
- vertical: a bin of value v pitches the view by the same scale, positive = down, as a mouse moved
  towards the player in screen coordinates (±200 → ±10°). Doom clamps the pitch to about [-32°, +56°].

ViZDoom applies a delta button's value on every tic of a ``make_action``, so the per-tic value sent is the
frame's degrees divided by ``tics_per_frame`` (measured: value 10 for 2 tics turns 20°). TURN_LEFT_RIGHT_DELTA
> 0 turns right, LOOK_UP_DOWN_DELTA > 0 looks up; the signs below follow from that.

Frames are rendered at a 16:9 resolution in RGB and resized whole to 280×150 with Pillow's bicubic filter
(antialiased when shrinking): 16:9 becomes 28:15, a 5% vertical squash, rather than a crop that would cut the
HUD at the bottom or the frag count at the top. ``vizdoom`` is imported lazily (an optional extra).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from diamond import fps_actions
from diamond.envs.base import OBS_DTYPE, VectorEnv, check_int, check_seed
from diamond.errors import InvalidValue
from diamond.spaces import to_json

FRAME_SHAPE = (150, 280)  # (H, W): the CS:GO frames of spec §10
MOUSE_DEGREES_PER_UNIT = 0.05  # degrees of view rotation per mouse-bin unit, both axes
INSTALL_HINT = "ViZDoom is not installed; install it with: pip install 'diamond-wm[vizdoom]'"

# CS:GO key or mouse button -> ViZDoom button name. Doom's weapons have no reload and no alternative fire:
# "r" is mapped to USE (doors, switches: it changes the picture) and "rmb" to ALTATTACK (mostly inert).
KEY_BUTTONS = {
    "w": "MOVE_FORWARD",
    "s": "MOVE_BACKWARD",
    "a": "MOVE_LEFT",
    "d": "MOVE_RIGHT",
    "space": "JUMP",
    "ctrl": "CROUCH",
    "shift": "SPEED",  # Doom's run key (CS:GO's shift walks); the nearest held-modifier button
    "1": "SELECT_WEAPON1",
    "2": "SELECT_WEAPON2",
    "3": "SELECT_WEAPON3",
    "r": "USE",
    "lmb": "ATTACK",
    "rmb": "ALTATTACK",
}
GAME_VARIABLES = (
    "POSITION_X",
    "POSITION_Y",
    "POSITION_Z",
    "ANGLE",
    "PITCH",
    "HEALTH",
    "SELECTED_WEAPON",
    "SELECTED_WEAPON_AMMO",
    "KILLCOUNT",
    "FRAGCOUNT",
    "HITCOUNT",
    "DEATHCOUNT",
)
START_TICS = 10  # the first tics of a game episode ignore input (measured: 7): they pass before the first frame
RESOLUTIONS = ("320x180", "400x225", "512x288", "640x360")  # 16:9 ViZDoom screen resolutions


@dataclass(frozen=True)
class Scenario:
    wad: str  # a scenario file shipped with ViZDoom
    bots: int = 0  # > 0: a multiplayer deathmatch hosted for this player alone, with ViZDoom's bots
    skill: int = 3
    doom_map: str = "map01"


# deathmatch: an arena full of monsters and weapons (single player; dying ends the game episode).
# multi_deathmatch: a larger map with bots and monsters; dying respawns the player, as in CS:GO deathmatch.
SCENARIOS = {"deathmatch": Scenario("deathmatch.wad"), "multi_deathmatch": Scenario("multi_deathmatch.wad", bots=6)}
# Doom's monsters (and other players): what the labels buffer calls an enemy. Dead ones are labelled "Dead...".
ENEMY_NAMES = frozenset(
    "Zombieman ShotgunGuy ChaingunGuy DoomImp Demon Spectre LostSoul Cacodemon HellKnight BaronOfHell "
    "Arachnotron PainElemental Revenant Fatso Archvile SpiderMastermind Cyberdemon WolfensteinSS DoomPlayer".split()
)


def validate_scenario(name: str, where: str = "VizdoomConfig.scenario") -> str:
    if name not in SCENARIOS:
        raise InvalidValue(f"{where}: unknown ViZDoom scenario {name!r}; expected one of {', '.join(SCENARIOS)}")
    return name


@dataclass(frozen=True)
class VizdoomConfig:
    scenario: str = "deathmatch"
    tics_per_frame: int = 2  # 35 tics/s / 2 = 17.5 frames/s
    resolution: str = "400x225"
    episode_frames: int | None = None  # time limit (truncation), in frames; None: the game's own (none)
    render_hud: bool = True  # the minimal HUD: health and ammo, like CS:GO's

    def __post_init__(self) -> None:
        validate_scenario(self.scenario)
        check_int("VizdoomConfig", "tics_per_frame", self.tics_per_frame, 1, 35)
        if self.resolution not in RESOLUTIONS:
            raise InvalidValue(f"VizdoomConfig.resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        if self.episode_frames is not None:
            check_int("VizdoomConfig", "episode_frames", self.episode_frames, 1)


def import_vizdoom() -> Any:
    try:
        import vizdoom
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return vizdoom


def button_values(action: np.ndarray, tics_per_frame: int) -> list[float]:
    """One action vector as ViZDoom button values: the KEY_BUTTONS flags, then the two delta buttons (per tic)."""
    held, dx, dy = fps_actions.decode(action)
    flags = [1.0 if key in held else 0.0 for key in KEY_BUTTONS]
    turn = dx * MOUSE_DEGREES_PER_UNIT / tics_per_frame  # > 0 turns right
    look = -dy * MOUSE_DEGREES_PER_UNIT / tics_per_frame  # mouse down (dy > 0) looks down: LOOK < 0
    return [*flags, turn, look]


def to_frame(screen_rgb: np.ndarray) -> np.ndarray:
    """A (H, W, 3) RGB screen as a (150, 280, 3) uint8 RGB frame (bicubic, antialiased when shrinking)."""
    from PIL import Image

    out_h, out_w = FRAME_SHAPE
    return np.asarray(Image.fromarray(screen_rgb).resize((out_w, out_h), Image.Resampling.BICUBIC))


@dataclass
class View:
    """What the scripted player may know besides the picture (game variables, labels and depth buffers)."""

    variables: dict[str, float]
    enemies: list[tuple[int, int, int, int]]  # screen boxes (x, y, width, height) of live enemies in sight
    screen: tuple[int, int]  # (width, height) of the rendered screen the boxes refer to
    depth: tuple[float, float, float]  # median depth of the left, centre and right thirds (0: touching)
    dead: bool = False


def read_view(state: Any, game: Any) -> View:
    variables = dict(zip(GAME_VARIABLES, (float(v) for v in state.game_variables)))
    me = np.array([variables["POSITION_X"], variables["POSITION_Y"]])
    enemies = [
        (int(lb.x), int(lb.y), int(lb.width), int(lb.height))
        for lb in state.labels
        if lb.object_name in ENEMY_NAMES
        and np.hypot(lb.object_position_x - me[0], lb.object_position_y - me[1]) > 8  # not the player itself
    ]
    depth = state.depth_buffer
    h, w = depth.shape
    band = depth[h // 3 : 2 * h // 3]
    thirds = tuple(float(np.median(band[:, i * w // 3 : (i + 1) * w // 3])) for i in range(3))
    return View(variables, enemies, (w, h), thirds, bool(game.is_player_dead()))


class VizdoomFPSEnv:
    """One ViZDoom game behind the Env interface, with the CS:GO action space (no auto-reset).

    ``end`` is the player's death, ``trunc`` the time limit. ``reset()`` after a death respawns the player
    in a multiplayer scenario (the match goes on) and starts a new game episode otherwise; ``reset(seed)``
    always starts a new game episode with that seed. ``info["view"]`` carries the View of the new frame.
    """

    def __init__(self, config: VizdoomConfig, seed: int | None = None) -> None:
        self.config = config
        self.scenario = SCENARIOS[config.scenario]
        self.action_space = fps_actions.csgo_action_space()
        self.observation_shape = (3, *FRAME_SHAPE)
        self._vzd = import_vizdoom()
        self.game = self._make_game()
        self.seed: int | None = check_seed("VizdoomFPSEnv", seed)
        self._pending_seed = self.seed
        self._needs_reset = True
        self._started = False
        self._last_obs = np.zeros(self.observation_shape, dtype=OBS_DTYPE)

    def _make_game(self) -> Any:
        vzd, sc = self._vzd, self.scenario
        game = vzd.DoomGame()
        game.set_doom_scenario_path(os.path.join(os.path.dirname(vzd.__file__), "scenarios", sc.wad))
        game.set_doom_map(sc.doom_map)
        # the engine's settings file, which ViZDoom otherwise writes into the working directory
        game.set_doom_config_path(os.path.join(tempfile.gettempdir(), "diamond-vizdoom.ini"))
        game.set_doom_skill(sc.skill)
        game.set_screen_resolution(getattr(vzd.ScreenResolution, "RES_" + self.config.resolution.upper()))
        game.set_screen_format(vzd.ScreenFormat.RGB24)
        game.set_window_visible(False)
        game.set_sound_enabled(False)
        game.set_labels_buffer_enabled(True)
        game.set_depth_buffer_enabled(True)
        game.set_render_hud(self.config.render_hud)
        game.set_render_minimal_hud(self.config.render_hud)
        game.set_render_crosshair(True)
        game.set_render_weapon(True)
        game.set_render_messages(False)  # no "A secret is revealed!" text stuck on the frames
        buttons = [*KEY_BUTTONS.values(), "TURN_LEFT_RIGHT_DELTA", "LOOK_UP_DOWN_DELTA"]
        game.set_available_buttons([getattr(vzd.Button, b) for b in buttons])
        game.set_available_game_variables([getattr(vzd.GameVariable, v) for v in GAME_VARIABLES])
        limit = self.config.episode_frames
        game.set_episode_start_time(START_TICS)
        game.set_episode_timeout(0 if limit is None else limit * self.config.tics_per_frame)
        if sc.bots:
            game.add_game_args(
                "-host 1 -deathmatch +timelimit 0 +sv_forcerespawn 1 +sv_respawnprotect 1 +sv_spawnfarthest 1 "
                "+sv_noautoaim 1 +viz_respawn_delay 0"
            )
        game.set_mode(vzd.Mode.PLAYER)
        game.init()
        return game

    def _new_game_episode(self) -> None:
        if self._pending_seed is not None:
            self.game.set_seed(self._pending_seed)
            self._pending_seed = None
        self.game.new_episode()
        if self.scenario.bots:
            self.game.send_game_command("removebots")
            for _ in range(self.scenario.bots):
                self.game.send_game_command("addbot")

    def _observe(self) -> tuple[np.ndarray, dict[str, Any]]:
        state = self.game.get_state()
        if state is None:  # the game episode finished: keep showing its last frame
            return self._last_obs.copy(), {}
        self._last_obs = np.ascontiguousarray(to_frame(state.screen_buffer).transpose(2, 0, 1), dtype=OBS_DTYPE)
        return self._last_obs.copy(), {"view": read_view(state, self.game)}

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:
            self.seed = self._pending_seed = check_seed("VizdoomFPSEnv", seed)
        # a death in a multiplayer match respawns the player; anything else starts a new game episode
        match_goes_on = self._started and self._pending_seed is None and not self.game.is_episode_finished()
        if self.scenario.bots and match_goes_on and self.game.is_player_dead():
            self.game.respawn_player()
        else:
            self._new_game_episode()
        self._started = True
        self._needs_reset = False
        return self._observe()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError(f"ViZDoom {self.config.scenario}: call reset() before step() (at the start, after end)")
        action = self.action_space.check(action, f"ViZDoom {self.config.scenario} step")
        reward = self.game.make_action(button_values(action, self.config.tics_per_frame), self.config.tics_per_frame)
        end = bool(self.game.is_player_dead())
        trunc = not end and bool(self.game.is_episode_finished())
        if end or trunc:
            self._needs_reset = True
        obs, info = self._observe()
        return obs, float(reward), end, trunc, info

    def protocol(self) -> dict[str, Any]:
        return {
            "env": "vizdoom_fps",
            **dataclasses.asdict(self.config),
            "wad": self.scenario.wad,
            "bots": self.scenario.bots,
            "frames_per_second": 35 / self.config.tics_per_frame,
            "mouse_degrees_per_unit": MOUSE_DEGREES_PER_UNIT,
            "key_buttons": dict(KEY_BUTTONS),
            "resize": "whole screen to 280x150, PIL bicubic",
            "num_actions": self.action_space.size,
            "action_space": to_json(self.action_space),
            "observation_shape": list(self.observation_shape),
            "vizdoom_version": getattr(self._vzd, "__version__", "?"),
        }

    def close(self) -> None:
        self.game.close()


def make_vizdoom_env(
    config: VizdoomConfig, num_envs: int = 1, seed: int | None = 0, backend: str = "sync"
) -> VectorEnv:
    """``num_envs`` ViZDoom games, game i seeded with ``seed + i``."""
    import functools

    from diamond.envs.vector import make_vector_env

    check_int("make_vizdoom_env", "num_envs", num_envs, 1)
    env_fns = [functools.partial(VizdoomFPSEnv, config, None if seed is None else seed + i) for i in range(num_envs)]
    return make_vector_env(env_fns, backend=backend)
