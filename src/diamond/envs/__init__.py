"""Real environments behind one small interface (spec §2): the Atari 100k protocol, MinAtar, Gymnasium pixels,
and ViZDoom as a first-person shooter with the CS:GO keyboard-and-mouse actions (spec §10).

``diamond.envs.families`` describes each family once (name, games, size rule, factory) and holds the one
``make_env``. The names below load their module on first use, so that importing this package (as the CLI
does to read the family names) costs nothing and never needs an optional dependency such as MinAtar.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "diamond.envs.atari": ("ENV_KINDS", "AtariConfig", "AtariEnv", "life_loss_is_terminal", "make_atari_env"),
    "diamond.envs.base": ("Env", "VectorEnv"),
    "diamond.envs.families": ("FAMILIES", "FAMILY_NAMES", "EnvFamily", "get_family", "make_env", "make_run_env"),
    "diamond.envs.games": ("ATARI_100K_GAMES", "MINATAR_GAMES", "atari_env_id", "validate_atari_game"),
    "diamond.envs.gym_pixels": ("GymPixelConfig", "GymPixelEnv", "make_gym_pixel_env", "validate_gym_id"),
    "diamond.envs.minatar": ("MinAtarConfig", "MinAtarEnv", "make_minatar_env"),
    "diamond.envs.vizdoom_fps": ("VizdoomConfig", "VizdoomFPSEnv", "make_vizdoom_env"),
    "diamond.envs.vizdoom_player": ("ScriptedPlayer",),
    "diamond.envs.vector": ("EnvWorkerError", "SubprocVectorEnv", "SyncVectorEnv", "make_vector_env"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'diamond.envs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value
