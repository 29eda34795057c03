"""Run folders of ``diamond train`` as a table of final scores per (game, seed).

A run folder counts once it holds ``results.json`` (written at the very end of a run). Runs are only
compared when their environment protocols agree (apart from what naturally differs between games);
missing (game, seed) cells are reported by name, never averaged over silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diamond.errors import UserError
from diamond.layout import AgentRun

# Protocol entries that differ between games by nature; everything else must agree across runs.
GAME_SPECIFIC_KEYS = frozenset({"game", "env_id", "num_actions", "action_meanings", "action_set", "action_space"})


class ReportError(UserError, ValueError):
    """Run folders that cannot be reported together (named, with the reason)."""


@dataclass(frozen=True)
class RunResult:
    path: Path
    game: str
    seed: int
    score: float  # mean return of the final test episodes
    episodes: int
    agent_steps: int
    env: str
    model_free: bool
    protocol: dict[str, Any]  # without GAME_SPECIFIC_KEYS
    test_history: list[dict[str, Any]] = field(default_factory=list)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path.parent}: no {path.name}; {what}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_run(path: str | Path) -> RunResult:
    run = Path(path)
    if not run.is_dir():
        raise ReportError(f"{run}: not a run folder (no such directory)")
    results = _read_json(run / AgentRun.RESULTS, "the run has not finished (or this is not a `diamond train` folder)")
    protocol = _read_json(run / AgentRun.PROTOCOL, "not a `diamond train` folder").get("protocol", {})
    try:
        final = results["final"]
        return RunResult(
            path=run,
            game=str(results["game"]),
            seed=int(results["seed"]),
            score=float(final["mean_return"]),
            episodes=int(final["episodes"]),
            agent_steps=int(results["agent_steps"]),
            env=str(results["env"]),
            model_free=bool(results.get("model_free", False)),
            protocol={k: v for k, v in protocol.items() if k not in GAME_SPECIFIC_KEYS},
            test_history=list(results.get("test_history", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{run / AgentRun.RESULTS}: missing or malformed entry {exc}") from None


def protocol_differences(runs: list[RunResult]) -> list[str]:
    """One line per protocol key whose value differs between runs, naming the runs of each value."""
    lines = []
    keys = sorted({k for r in runs for k in r.protocol} | {"env", "model_free"})
    for key in keys:
        values: dict[str, list[str]] = {}
        for r in runs:
            value = {"env": r.env, "model_free": r.model_free}.get(key, r.protocol.get(key, "<absent>"))
            values.setdefault(json.dumps(value, sort_keys=True), []).append(str(r.path))
        if len(values) > 1:
            parts = "; ".join(f"{v} in {', '.join(paths)}" for v, paths in values.items())
            lines.append(f"{key}: {parts}")
    return lines


@dataclass(frozen=True)
class ScoreTable:
    games: tuple[str, ...]  # every game that has at least one run
    seeds: tuple[int, ...]  # every seed that appears in at least one run
    scores: dict[tuple[str, int], float]
    runs: dict[tuple[str, int], RunResult]

    @property
    def missing(self) -> list[tuple[str, int]]:
        """(game, seed) cells with no run, although the game or the seed appears elsewhere."""
        return [(g, s) for g in self.games for s in self.seeds if (g, s) not in self.scores]

    @property
    def complete_seeds(self) -> tuple[int, ...]:
        """Seeds that have a run for every game: the rows of the aggregate statistics."""
        return tuple(s for s in self.seeds if all((g, s) in self.scores for g in self.games))

    def matrix(self, seeds: tuple[int, ...] | None = None) -> np.ndarray:
        """(seeds, games) scores for complete seeds (by default all of them)."""
        seeds = self.complete_seeds if seeds is None else seeds
        return np.array([[self.scores[(g, s)] for g in self.games] for s in seeds], dtype=np.float64).reshape(
            len(seeds), len(self.games)
        )

    def game_means(self) -> dict[str, float]:
        """Per game, the mean over all its runs (whatever the seeds)."""
        return {g: float(np.mean([v for (gg, _), v in self.scores.items() if gg == g])) for g in self.games}


def score_table(
    runs: list[RunResult], game_order: tuple[str, ...] = (), allow_mixed_protocols: bool = False
) -> ScoreTable:
    """Check the runs against each other and tabulate their final scores."""
    if not runs:
        return ScoreTable((), (), {}, {})
    differences = protocol_differences(runs)
    if differences and not allow_mixed_protocols:
        raise ReportError(
            "the runs were made under different protocols; refusing to report them together "
            "(--allow-mixed-protocols overrides):\n  " + "\n  ".join(differences)
        )
    by_cell: dict[tuple[str, int], RunResult] = {}
    for r in runs:
        other = by_cell.get((r.game, r.seed))
        if other is not None:
            raise ReportError(f"two runs of {r.game} with seed {r.seed}: {other.path} and {r.path}; pass each run once")
        by_cell[(r.game, r.seed)] = r
    order = {g: i for i, g in enumerate(game_order)}
    games = tuple(sorted({r.game for r in runs}, key=lambda g: (order.get(g, len(order)), g)))
    seeds = tuple(sorted({r.seed for r in runs}))
    return ScoreTable(games, seeds, {k: r.score for k, r in by_cell.items()}, by_cell)
