"""Batched environments with auto-reset: N single ``Env``s behind the ``VectorEnv`` interface (spec §2).

``SyncVectorEnv`` steps the envs one after the other in this process; ``SubprocVectorEnv`` runs each
env in its own process (spawn or forkserver, never fork: the parent may hold CUDA or torch threads).
Both use the same per-env step function, so the same seeds give the same trajectories.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from diamond.envs.base import OBS_DTYPE, Env, VectorEnv
from diamond.errors import InvalidValue, UserError
from diamond.spaces import ActionSpace

EnvFactory = Callable[[], Env]
BACKENDS: tuple[str, ...] = ("sync", "subproc")
START_METHODS: tuple[str, ...] = ("spawn", "forkserver")


def _step_with_autoreset(env: Env, action: Any) -> tuple[np.ndarray, float, bool, bool, np.ndarray]:
    """One step; where the episode ended, reset and return the true final observation separately."""
    obs, rew, end, trunc, _ = env.step(action)
    final_obs = obs
    if end or trunc:
        obs, _ = env.reset()
    return obs, rew, end, trunc, final_obs


def _describe(env: Env) -> dict[str, Any]:
    return {
        "action_space": env.action_space,
        "observation_shape": tuple(env.observation_shape),
        "protocol": env.protocol(),
        "seed": env.seed,
    }


def _check_actions(actions: Any, num_envs: int, space: ActionSpace) -> list[Any]:
    """One action per env (an int for discrete spaces, else a float32 vector), or a ValueError naming the bad one."""
    arr = np.asarray(actions)
    if not space.is_discrete:
        if arr.shape != (num_envs, space.size):
            raise ValueError(
                f"actions must be an array of shape ({num_envs}, {space.size}) ({space}), got shape {arr.shape}"
            )
        return list(space.check(arr, "actions"))
    if arr.shape != (num_envs,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"actions must be an integer array of shape ({num_envs},), got shape {arr.shape} dtype {arr.dtype}"
        )
    bad = (arr < 0) | (arr >= space.size)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"actions[{i}] = {int(arr[i])} is out of range: valid actions are 0..{space.size - 1}")
    return [int(a) for a in arr]


def _check_same_envs(descriptions: list[dict[str, Any]]) -> None:
    first = descriptions[0]
    for i, d in enumerate(descriptions[1:], start=1):
        for key in ("action_space", "observation_shape", "protocol"):
            if d[key] != first[key]:
                raise ValueError(
                    f"all envs of a vector env must share one protocol: env {i} has {key}={d[key]!r}, env 0 has {first[key]!r}"
                )


def _batch(results: list[tuple[np.ndarray, float, bool, bool, np.ndarray]]):
    obs = np.stack([r[0] for r in results]).astype(OBS_DTYPE, copy=False)
    rew = np.array([r[1] for r in results], dtype=np.float32)
    end = np.array([r[2] for r in results], dtype=np.uint8)
    trunc = np.array([r[3] for r in results], dtype=np.uint8)
    final_obs = np.stack([r[4] for r in results]).astype(OBS_DTYPE, copy=False)
    return obs, rew, end, trunc, {"final_obs": final_obs}


def _snapshot(env: Env) -> bytes:
    take = getattr(env, "snapshot", None)
    if take is None:
        raise NotImplementedError(f"{type(env).__name__} cannot save its state (it has no snapshot() method)")
    return take()


def _check_snapshots(snapshots: Sequence[bytes], num_envs: int) -> None:
    if len(snapshots) != num_envs:
        raise ValueError(f"restore: got {len(snapshots)} env snapshots for {num_envs} envs")


class _VectorBase:
    num_envs: int
    action_space: ActionSpace
    observation_shape: tuple[int, int, int]

    def _init_from(self, descriptions: list[dict[str, Any]]) -> None:
        _check_same_envs(descriptions)
        self.num_envs = len(descriptions)
        self.action_space = descriptions[0]["action_space"]
        self.observation_shape = descriptions[0]["observation_shape"]
        self._protocol = descriptions[0]["protocol"]
        self._seeds: list[int | None] = [d["seed"] for d in descriptions]

    def _seed_for(self, seed: int | None, i: int) -> int | None:
        return None if seed is None else int(seed) + i  # env i gets seed + i

    def protocol(self) -> dict[str, Any]:
        """The envs' shared protocol plus the number of envs and each env's seed."""
        return {**self._protocol, "num_envs": self.num_envs, "env_seeds": list(self._seeds)}

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class SyncVectorEnv(_VectorBase):
    """N envs stepped one after the other in this process."""

    def __init__(self, env_fns: Sequence[EnvFactory]) -> None:
        if len(env_fns) == 0:
            raise ValueError("SyncVectorEnv needs at least one env factory, got none")
        self.envs: list[Env] = [fn() for fn in env_fns]
        self._init_from([_describe(e) for e in self.envs])
        self._closed = False

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs = []
        for i, env in enumerate(self.envs):
            obs.append(env.reset(self._seed_for(seed, i))[0])
            self._seeds[i] = env.seed
        return np.stack(obs).astype(OBS_DTYPE, copy=False)

    def step(self, actions: np.ndarray):
        actions = _check_actions(actions, self.num_envs, self.action_space)
        return _batch([_step_with_autoreset(env, a) for env, a in zip(self.envs, actions)])

    def snapshots(self) -> list[bytes]:
        return [_snapshot(env) for env in self.envs]

    def restore(self, snapshots: Sequence[bytes]) -> None:
        _check_snapshots(snapshots, self.num_envs)
        for env, snap in zip(self.envs, snapshots):
            env.restore(snap)
        self._seeds = [env.seed for env in self.envs]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for env in self.envs:
                env.close()


class EnvWorkerError(UserError, RuntimeError):
    """An exception raised inside an env worker process; the message carries the worker's traceback."""


def _worker(conn: Any, env_fn: EnvFactory) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the parent, which closes us cleanly
    try:
        env = env_fn()
        conn.send(("ok", _describe(env)))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        _send_error(conn, exc)
        conn.close()
        return
    try:
        while True:
            try:
                cmd, arg = conn.recv()
            except (EOFError, OSError):
                break  # the parent is gone
            if cmd == "close":
                conn.send(("ok", None))
                break
            try:
                if cmd == "reset":
                    obs = env.reset(arg)[0]
                    conn.send(("ok", (obs, env.seed)))
                elif cmd == "step":
                    conn.send(("ok", _step_with_autoreset(env, arg)))
                elif cmd == "snapshot":
                    conn.send(("ok", _snapshot(env)))
                elif cmd == "restore":
                    env.restore(arg)
                    conn.send(("ok", env.seed))
                else:
                    raise ValueError(f"unknown env worker command {cmd!r}")
            except Exception as exc:  # noqa: BLE001
                _send_error(conn, exc)
    finally:
        env.close()
        conn.close()


def _send_error(conn: Any, exc: BaseException) -> None:
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        conn.send(("error", (f"{type(exc).__name__}: {exc}", text)))
    except (BrokenPipeError, OSError):
        pass


class SubprocVectorEnv(_VectorBase):
    """N envs, each in its own process, talking over pipes.

    ``env_fns`` must be picklable (e.g. ``functools.partial(AtariEnv, config, "train", seed)``).
    An exception in a worker is re-raised here as ``EnvWorkerError`` with the worker's traceback.
    """

    def __init__(self, env_fns: Sequence[EnvFactory], start_method: str = "spawn") -> None:
        if len(env_fns) == 0:
            raise ValueError("SubprocVectorEnv needs at least one env factory, got none")
        if start_method not in START_METHODS:
            raise InvalidValue(
                f"start_method must be one of {START_METHODS} (fork is unsafe with torch/CUDA), got {start_method!r}"
            )
        ctx = mp.get_context(start_method)
        self._closed = False
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        for i, fn in enumerate(env_fns):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, fn), name=f"diamond-env-{i}", daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        try:
            descriptions = self._receive_all("create the env")
            self._init_from(descriptions)
        except BaseException:
            self.close()
            raise

    def _receive_all(self, what: str) -> list[Any]:
        """Receive one reply per worker; raise after all replies are in, so the pipes stay in step."""
        replies: list[Any] = []
        errors: list[str] = []
        for i, conn in enumerate(self._conns):
            try:
                status, payload = conn.recv()
            except (EOFError, OSError):
                proc = self._procs[i]
                proc.join(timeout=1.0)
                errors.append(f"env worker {i} (pid {proc.pid}) died while trying to {what}; exit code {proc.exitcode}")
                replies.append(None)
                continue
            if status == "error":
                summary, text = payload
                errors.append(
                    f"env worker {i} raised {summary} while trying to {what}.\n--- worker traceback ---\n{text}"
                )
                replies.append(None)
            else:
                replies.append(payload)
        if errors:
            raise EnvWorkerError("\n".join(errors))
        return replies

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this SubprocVectorEnv is closed")

    def reset(self, seed: int | None = None) -> np.ndarray:
        self._check_open()
        for i, conn in enumerate(self._conns):
            conn.send(("reset", self._seed_for(seed, i)))
        replies = self._receive_all("reset")
        self._seeds = [s for _, s in replies]
        return np.stack([o for o, _ in replies]).astype(OBS_DTYPE, copy=False)

    def step(self, actions: np.ndarray):
        self._check_open()
        actions = _check_actions(actions, self.num_envs, self.action_space)
        for conn, a in zip(self._conns, actions):
            conn.send(("step", a))
        return _batch(self._receive_all("step"))

    def snapshots(self) -> list[bytes]:
        self._check_open()
        for conn in self._conns:
            conn.send(("snapshot", None))
        return self._receive_all("take a snapshot")

    def restore(self, snapshots: Sequence[bytes]) -> None:
        self._check_open()
        _check_snapshots(snapshots, self.num_envs)
        for conn, snap in zip(self._conns, snapshots):
            conn.send(("restore", snap))
        self._seeds = self._receive_all("restore a snapshot")

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for conn in self._conns:
            try:
                if conn.poll(5.0):
                    conn.recv()
            except (EOFError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=1.0)
        for conn in self._conns:
            conn.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser
            pass


def make_vector_env(env_fns: Sequence[EnvFactory], backend: str = "sync", start_method: str = "spawn") -> VectorEnv:
    """Build a vector env from single-env factories with the chosen backend ("sync" or "subproc")."""
    if backend == "sync":
        return SyncVectorEnv(env_fns)
    if backend == "subproc":
        return SubprocVectorEnv(env_fns, start_method=start_method)
    raise InvalidValue(f"backend must be one of {BACKENDS}, got {backend!r}")
