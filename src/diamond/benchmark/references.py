"""The published numbers the report compares with (facts from the DIAMOND paper, NeurIPS 2024).

``data/atari100k_paper_table1.csv`` is the paper's Table 1: per game, the random and human scores that
define human-normalised scores, and the mean return over 5 seeds after 100k agent steps of SimPLe, TWM,
IRIS, DreamerV3, STORM and DIAMOND. ``data/diamond_paper_per_seed_scores.json`` holds DIAMOND's final
score of each of its 5 seeds per game (the mean return of 100 test episodes at the end of training).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

PAPER_METHODS: tuple[str, ...] = ("SimPLe", "TWM", "IRIS", "DreamerV3", "STORM", "DIAMOND")
TABLE1_FILE = "atari100k_paper_table1.csv"
PER_SEED_FILE = "diamond_paper_per_seed_scores.json"


@dataclass(frozen=True)
class Table1:
    games: tuple[str, ...]
    random: dict[str, float]
    human: dict[str, float]
    methods: dict[str, dict[str, float]]  # method -> game -> mean score over its seeds

    def hns(self, game: str, score: float | np.ndarray) -> float | np.ndarray:
        """Human-normalised score: (score − random) / (human − random)."""
        return human_normalized(score, self.random[game], self.human[game])


def human_normalized(score: float | np.ndarray, random: float, human: float) -> float | np.ndarray:
    return (np.asarray(score, dtype=np.float64) - random) / (human - random)


def _data_path(name: str, override: str | Path | None) -> Path:
    if override is not None:
        return Path(override)
    return Path(str(resources.files("diamond.benchmark") / "data" / name))


def load_table1(path: str | Path | None = None) -> Table1:
    file = _data_path(TABLE1_FILE, path)
    with open(file, newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {"game", "random", "human", *PAPER_METHODS}
    if not rows or set(rows[0]) != expected:
        found = sorted(rows[0]) if rows else []
        raise ValueError(f"{file}: expected the columns {sorted(expected)}, found {found}")
    games = tuple(r["game"] for r in rows)
    return Table1(
        games=games,
        random={r["game"]: float(r["random"]) for r in rows},
        human={r["game"]: float(r["human"]) for r in rows},
        methods={m: {r["game"]: float(r[m]) for r in rows} for m in PAPER_METHODS},
    )


def load_paper_per_seed(path: str | Path | None = None) -> dict[str, list[float]]:
    """DIAMOND's published per-seed final scores: game -> 5 returns."""
    file = _data_path(PER_SEED_FILE, path)
    data = json.loads(file.read_text())
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        raise ValueError(f"{file}: every game must list the same number of seeds, found {sorted(lengths)}")
    return {game: [float(x) for x in scores] for game, scores in data.items()}
