"""What a MinAtar game does after another action than the one taken: the truth that
`scripts/reward_events.py`'s "another action" figures are measured against.

A uniformly random policy plays the game; before each step the game's whole state (its random state
included, so sticky actions draw the same) is copied once per other action and stepped with it. Printed per
kind of transition actually taken (rewarded, ended, other, as in reward_events.py): the mean probability,
over the other actions drawn uniformly, of a non-zero reward and of an end.

    python scripts/minatar_counterfactuals.py asterix [--steps 40000] [--seed 0] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import numpy as np

from diamond.envs.games import MINATAR_GAMES
from diamond.envs.minatar import MinAtarConfig

KINDS = ("rewarded", "ended", "other")


def counterfactuals(game: str, steps: int, seed: int, protocol: MinAtarConfig) -> dict[str, Any]:
    """Per kind of transition taken: how many, and the mean P(reward ≠ 0) and P(end) over the other actions."""
    import minatar

    env = minatar.Environment(
        env_name=game, sticky_action_prob=protocol.sticky_action_prob, difficulty_ramping=protocol.difficulty_ramping
    )
    env.seed(seed)
    env.reset()
    rng = np.random.default_rng(seed)
    actions = list(env.minimal_action_set())  # the game's own actions, as the project's env offers them
    found: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    for _ in range(steps):
        taken = int(rng.integers(len(actions)))
        outcomes = []
        for action in actions:
            twin = copy.deepcopy(env)
            reward, end = twin.act(action)
            outcomes.append((reward != 0, bool(end)))
        reward, end = env.act(actions[taken])
        if outcomes[taken] != (reward != 0, bool(end)):
            raise RuntimeError(f"{game}: a copy of the game did not repeat the step taken; copies are not exact")
        kind = "rewarded" if reward != 0 else "ended" if end else "other"
        others = [outcomes[a] for a in range(len(actions)) if a != taken]
        found[kind].append((float(np.mean([r for r, _ in others])), float(np.mean([e for _, e in others]))))
        if end:
            env.reset()
    report: dict[str, Any] = {
        "game": game,
        "steps": steps,
        "seed": seed,
        "sticky_action_prob": protocol.sticky_action_prob,
    }
    for kind, values in found.items():
        mean = np.mean(values, axis=0) if values else (float("nan"), float("nan"))
        report[kind] = {"count": len(values), "reward": float(mean[0]), "end": float(mean[1])}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("game", choices=MINATAR_GAMES, help="a MinAtar game")
    parser.add_argument("--steps", type=int, default=40_000, help="steps of the random policy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    protocol = MinAtarConfig(game=args.game)  # the project's MinAtar protocol: sticky actions, difficulty ramping
    report = counterfactuals(args.game, args.steps, args.seed, protocol)
    print(
        f"MinAtar {args.game}, {args.steps:,} steps of a uniformly random policy, "
        f"sticky actions {protocol.sticky_action_prob}:"
    )
    for kind in KINDS:
        entry = report[kind]
        print(
            f"  {kind:8s} ({entry['count']:,}): with another action P(reward) {entry['reward']:.3f}, "
            f"P(end) {entry['end']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
