"""What an environment accepts as an action: one small value that envs declare and the episode store,
the configs, the models, RL and the players read (nothing else encodes "what an action is").

Three kinds:

- ``discrete``: one of ``size`` actions, an integer (the Atari and MinAtar games); ``names`` are the
  action meanings.
- ``multi_hot``: ``size`` named 0/1 entries held at once (keyboard and mouse, spec §10: 51 entries);
  ``groups`` lists sets of entries of which exactly one is 1 (the CS:GO mouse bins).
- ``continuous``: a vector of ``size`` reals inside the box [low, high].

One action is an int64 scalar (discrete) or a float32 vector of ``size`` entries (the other kinds); a
batch adds leading dimensions. The dataclass is a configuration value, so the model configs hold it
and it round-trips through JSON (config files, store metadata, checkpoints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from diamond.errors import InvalidValue

KINDS = ("discrete", "multi_hot", "continuous")


class ActionError(InvalidValue):
    """An action that the space does not contain; the message names the entry and the space."""


@dataclass(frozen=True)
class ActionSpace:
    kind: str = "discrete"
    size: int = 4  # discrete: number of actions; multi_hot: entries; continuous: dimensions
    names: tuple[str, ...] = ()  # optional: one per action (discrete), entry (multi_hot) or dimension
    groups: tuple[tuple[int, ...], ...] = ()  # multi_hot: sets of entries of which exactly one is 1
    low: tuple[float, ...] = ()  # continuous: per-dimension bounds
    high: tuple[float, ...] = ()

    # -- construction ----------------------------------------------------------------------------------

    @classmethod
    def discrete(cls, n: int, names: tuple[str, ...] | list[str] = ()) -> ActionSpace:
        return _checked(cls(kind="discrete", size=int(n), names=tuple(str(x) for x in names)))

    @classmethod
    def multi_hot(
        cls, names: tuple[str, ...] | list[str], groups: tuple[tuple[int, ...], ...] | list[list[int]] = ()
    ) -> ActionSpace:
        return _checked(
            cls(
                kind="multi_hot",
                size=len(names),
                names=tuple(str(x) for x in names),
                groups=tuple(tuple(int(i) for i in g) for g in groups),
            )
        )

    @classmethod
    def continuous(
        cls,
        low: tuple[float, ...] | list[float],
        high: tuple[float, ...] | list[float],
        names: tuple[str, ...] | list[str] = (),
    ) -> ActionSpace:
        return _checked(
            cls(
                kind="continuous",
                size=len(low),
                names=tuple(str(x) for x in names),
                low=tuple(float(x) for x in low),
                high=tuple(float(x) for x in high),
            )
        )

    def validate(self, where: str = "action_space") -> None:
        def bad(name: str, value: Any, expected: str) -> None:
            raise ActionError(f"{where}: {name}={value!r} is invalid; expected {expected}")

        if self.kind not in KINDS:
            bad("kind", self.kind, f"one of {list(KINDS)}")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 1:
            bad("size", self.size, "an integer >= 1")
        if self.names and len(self.names) != self.size:
            bad("names", self.names, f"{self.size} names (one per {self._unit}) or none")
        if self.kind != "multi_hot" and self.groups:
            bad("groups", self.groups, "no groups: only multi_hot spaces have one-hot groups")
        seen: set[int] = set()
        for g in self.groups:
            if len(g) < 2 or any(not 0 <= i < self.size for i in g) or seen & set(g) or len(set(g)) != len(g):
                bad("groups", self.groups, f"disjoint sets of >= 2 entry indices in 0..{self.size - 1}")
            seen |= set(g)
        if self.kind == "continuous":
            if len(self.low) != self.size or len(self.high) != self.size:
                bad("low/high", (self.low, self.high), f"{self.size} bounds each")
            if not all(math.isfinite(lo) and math.isfinite(hi) and lo < hi for lo, hi in zip(self.low, self.high)):
                bad("low/high", (self.low, self.high), "finite bounds with low < high in every dimension")
        elif self.low or self.high:
            bad("low/high", (self.low, self.high), "no bounds: only continuous spaces have them")

    # -- what an action looks like ---------------------------------------------------------------------

    @property
    def _unit(self) -> str:
        return {"discrete": "action", "multi_hot": "entry", "continuous": "dimension"}[self.kind]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one action."""
        return () if self.kind == "discrete" else (self.size,)

    @property
    def dtype(self) -> type:
        return np.int64 if self.kind == "discrete" else np.float32

    @property
    def is_discrete(self) -> bool:
        return self.kind == "discrete"

    def accepts_same_actions(self, other: ActionSpace | None) -> bool:
        """The same actions, whatever they are called (a checkpoint inferred from tensor shapes has no names)."""
        keys = lambda s: (s.kind, s.size, s.groups, s.low, s.high)  # noqa: E731
        return other is not None and keys(self) == keys(other)

    def name(self, i: int) -> str:
        """The name of action (discrete), entry (multi_hot) or dimension (continuous) ``i``."""
        return self.names[i] if self.names else f"{self._unit}{i}"

    def describe(self, action: Any) -> str:
        """One action as text: its meaning, the active entries, or the values."""
        a = np.asarray(action)
        if self.kind == "discrete":
            return self.name(int(a))
        if self.kind == "multi_hot":
            active = [self.name(i) for i in np.flatnonzero(a > 0.5)]
            return "+".join(active) if active else "none"
        return "(" + ", ".join(f"{self.name(i)}={float(v):.3g}" for i, v in enumerate(a)) + ")"

    def free_entries(self) -> tuple[int, ...]:
        """multi_hot: the entries outside every one-hot group (independent 0/1 flags)."""
        grouped = {i for g in self.groups for i in g}
        return tuple(i for i in range(self.size) if i not in grouped)

    # -- checking and drawing --------------------------------------------------------------------------

    def check(self, actions: Any, where: str) -> np.ndarray:
        """``actions`` (any leading batch dimensions) as an array of this space's dtype, or ActionError
        naming the first bad action, the entry at fault and the space."""
        a = np.asarray(actions)
        if a.shape[a.ndim - len(self.shape) :] != self.shape or (self.kind != "discrete" and a.ndim == 0):
            raise ActionError(
                f"{where}: actions of shape {a.shape} do not end in this space's action shape {self.shape} ({self})"
            )
        if self.kind == "discrete":
            ok = a.dtype.kind in "biu" or (a.dtype.kind == "f" and bool(np.all(a == np.round(a))))
            bad = ~((a >= 0) & (a < self.size)) if ok else np.ones(a.shape, dtype=bool)
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ActionError(
                    f"{where}: action {a[idx].item()!r} at index {idx} is not an integer in 0..{self.size - 1} ({self})"
                )
            return a.astype(np.int64)
        flat = a.reshape(-1, self.size).astype(np.float64)
        if self.kind == "multi_hot":
            self._check_multi_hot(flat, where)
        else:
            low, high = np.asarray(self.low), np.asarray(self.high)
            bad = ~((flat >= low) & (flat <= high))
            if bad.any():
                row, col = (int(x) for x in np.argwhere(bad)[0])
                raise ActionError(
                    f"{where}: action {row}, {self.name(col)} (dimension {col}) = {float(flat[row, col])!r} "
                    f"is outside its bounds [{self.low[col]}, {self.high[col]}]"
                )
        return a.astype(np.float32)

    def _check_multi_hot(self, flat: np.ndarray, where: str) -> None:
        bad = ~np.isin(flat, (0.0, 1.0))
        if bad.any():
            row, col = (int(x) for x in np.argwhere(bad)[0])
            raise ActionError(
                f"{where}: action {row}, entry {self.name(col)} (index {col}) = {float(flat[row, col])!r}; "
                "multi-hot entries are 0 or 1"
            )
        for g in self.groups:
            counts = flat[:, list(g)].sum(axis=1)
            wrong = np.flatnonzero(counts != 1)
            if wrong.size:
                row = int(wrong[0])
                active = [self.name(i) for i in g if flat[row, i] == 1]
                raise ActionError(
                    f"{where}: action {row} has {int(counts[row])} active entries in the one-hot group "
                    f"{self.name(g[0])}..{self.name(g[-1])} ({active or 'none'}); exactly one must be 1"
                )

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniformly random actions (the random policy and epsilon-greedy exploration): discrete
        uniform; multi_hot: each free entry a fair coin and one uniform entry per group; continuous
        uniform in the box."""
        if self.kind == "discrete":
            return rng.integers(self.size, size=n, dtype=np.int64)
        if self.kind == "continuous":
            return rng.uniform(self.low, self.high, size=(n, self.size)).astype(np.float32)
        out = np.zeros((n, self.size), dtype=np.float32)
        free = list(self.free_entries())
        out[:, free] = rng.integers(2, size=(n, len(free)))
        for g in self.groups:
            out[np.arange(n), np.asarray(g)[rng.integers(len(g), size=n)]] = 1
        return out

    def __str__(self) -> str:
        if self.kind == "discrete":
            return f"discrete space of {self.size} actions"
        if self.kind == "multi_hot":
            return f"multi-hot space of {self.size} entries with {len(self.groups)} one-hot group(s)"
        return f"continuous space of {self.size} dimensions"


def _checked(space: ActionSpace) -> ActionSpace:
    space.validate()
    return space


def to_json(space: ActionSpace) -> dict[str, Any]:
    """The space as plain JSON data (store metadata, protocol records)."""
    return {
        "kind": space.kind,
        "size": space.size,
        "names": list(space.names),
        "groups": [list(g) for g in space.groups],
        "low": list(space.low),
        "high": list(space.high),
    }


def from_json(data: Any, where: str) -> ActionSpace:
    """The space that ``to_json`` wrote, checked; ``where`` names the file it came from."""
    try:
        space = ActionSpace(
            kind=str(data["kind"]),
            size=int(data["size"]),
            names=tuple(str(n) for n in data["names"]),
            groups=tuple(tuple(int(i) for i in g) for g in data["groups"]),
            low=tuple(float(x) for x in data["low"]),
            high=tuple(float(x) for x in data["high"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ActionError(f"{where}: {data!r} is not an action space ({type(exc).__name__}: {exc})") from None
    space.validate(where)
    return space
