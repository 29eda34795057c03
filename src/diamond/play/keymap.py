"""Keyboard control of any game, derived from its action meanings.

A person holds some of five controls: the four directions and fire. The action is the game's action
whose meaning is exactly that combination (Atari names them ``UPRIGHTFIRE``, ``LEFT``, ``NOOP``, ...);
where the game lacks it, the closest one it has: fire is dropped first, then the second direction,
then everything (NOOP). So every game's minimal action set is reachable from the same keys, and a key
that a game does not use simply does nothing.

The user interfaces (pygame, the browser page) translate their own key names into the controls and
commands below; everything else here is pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

from diamond.envs.minatar import MEANINGS as MINATAR_MEANINGS

CONTROLS = ("up", "down", "left", "right", "fire")

# The order in which Atari writes a combined meaning: vertical, horizontal, fire.
_NAME_ORDER = ("up", "down", "right", "left", "fire")

# MinAtar's action set indexes this full list (MinAtar's ``n l u r d f``).

# Commands of the player, by name. The UIs bind keys to them (and list them in their help text).
COMMANDS = {
    "toggle_controller": "switch between human and policy control",
    "next_source": "switch between the world model, the real test env and the real train env",
    "horizon_up": "longer imagination horizon",
    "horizon_down": "shorter imagination horizon",
    "pause": "pause or resume",
    "step": "advance one frame while paused",
    "reset": "start a new episode",
}


def action_meanings(protocol: dict[str, Any]) -> list[str]:
    """The meaning of each action of an env, from its protocol record (Atari and MinAtar)."""
    if "action_meanings" in protocol:
        return [str(m) for m in protocol["action_meanings"]]
    if protocol.get("env") == "minatar" and "action_set" in protocol:
        return [MINATAR_MEANINGS[int(a)] for a in protocol["action_set"]]
    return [f"ACTION{i}" for i in range(int(protocol["num_actions"]))]


def meaning_of(controls: Iterable[str]) -> str:
    """The Atari-style name of a combination of controls, e.g. {'left', 'up', 'fire'} → 'UPLEFTFIRE'."""
    held = set(controls)
    unknown = held - set(CONTROLS)
    if unknown:
        raise ValueError(f"unknown control(s) {sorted(unknown)}; the controls are {', '.join(CONTROLS)}")
    if {"up", "down"} <= held:  # opposite directions cancel
        held -= {"up", "down"}
    if {"left", "right"} <= held:
        held -= {"left", "right"}
    name = "".join(c.upper() for c in _NAME_ORDER if c in held)
    return name or "NOOP"


def action_for(controls: Iterable[str], meanings: Sequence[str]) -> int:
    """The index of the game's action closest to the held controls (NOOP, or action 0, if none fits)."""
    index = {m: i for i, m in enumerate(meanings)}
    held = set(controls)
    candidates = [held, held - {"fire"}]
    vertical, horizontal = held & {"up", "down"}, held & {"left", "right"}
    for keep in (vertical, horizontal):
        candidates += [keep | (held & {"fire"}), keep]
    candidates.append(held & {"fire"})
    for combo in candidates:
        name = meaning_of(combo)
        if name in index:
            return index[name]
    return index.get("NOOP", 0)


def reachable(meanings: Sequence[str]) -> dict[str, str]:
    """For a help text: each of the game's actions and the controls that produce it."""
    out: dict[str, str] = {}
    for r in range(len(CONTROLS) + 1):
        for combo in combinations(CONTROLS, r):
            name = meanings[action_for(combo, meanings)]
            out.setdefault(name, " + ".join(combo) if combo else "(no key)")
    return out
