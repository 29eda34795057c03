"""Collecting episodes into a store with a named policy: what ``diamond collect`` and the studies run.

``random`` is the untrained agent's uniformly random policy (spec §1); ``expert`` is the game's scripted
player (``diamond.envs.experts``), which reads the emulator's RAM and so needs Atari envs stepped in this
process. ``epsilon`` replaces each action by a uniform one with that probability (spec §2's protocol).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from diamond.data.datasets import open_or_create_store, store_metadata
from diamond.envs.experts import make_expert
from diamond.envs.families import get_family, make_env
from diamond.errors import InvalidValue
from diamond.training.collector import Collector, RandomPolicy

POLICIES = {
    "random": lambda env, game, seed: RandomPolicy(env.action_space, seed=seed),
    "expert": lambda env, game, seed: make_expert(game, env, seed),
}


def make_policy(name: str, env, game: str, seed: int):
    """The policy ``name`` (one of ``POLICIES``, the only list of them) acting in ``env``."""
    if name not in POLICIES:
        raise InvalidValue(f"--policy {name!r}: expected one of {', '.join(POLICIES)}")
    return POLICIES[name](env, game, seed)


def collect_into_store(
    env_family: str,
    game: str,
    kind: str,
    steps: int,
    out: Path,
    num_envs: int = 1,
    seed: int = 0,
    backend: str = "sync",
    policy: str = "random",
    epsilon: float = 0.0,
) -> dict[str, Any]:
    """Play ``steps`` agent steps of ``game`` with ``policy`` and add the episodes to the store at ``out``
    (created if needed; unfinished episodes are stored too, marked truncated). Returns what it did."""
    if not 0.0 <= epsilon <= 1.0:
        raise InvalidValue(f"--epsilon {epsilon}: expected a probability in [0, 1]")
    get_family(env_family).validate_game(game, "--game")
    env = make_env(env_family, game, kind, num_envs, seed, backend)
    try:
        actor = make_policy(policy, env, game, seed)
        store = open_or_create_store(out, store_metadata(env.protocol()))
        with store:
            before = store.num_steps
            collector = Collector(env, store, actor, epsilon=epsilon, seed=seed)
            t0 = time.monotonic()
            stats = collector.collect(steps)
            truncated = collector.end_partial_episodes()
            return {
                "store": str(out),
                "kind": kind,
                "policy": policy,
                "epsilon": epsilon,
                "steps_taken": stats.steps,
                "episodes_added": stats.episodes + truncated,
                "steps_stored": store.num_steps - before,
                "truncated_episodes": truncated,
                "total_episodes": len(store),
                "total_steps": store.num_steps,
                "completed_returns": [float(r) for r in stats.returns],
                "seconds": time.monotonic() - t0,
            }
    finally:
        env.close()
