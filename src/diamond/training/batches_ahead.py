"""Batches drawn ahead of their use on a background thread, so that reading segments from the replay store,
gathering them and copying them to the device overlap the updates that use the batches before.

The thread draws exactly the batches the updates will use, in the same order, from the same random
streams, and stops: a run's draws (and so its checkpoints and resumes) are the same as when each update
drew its own batch. Nothing else may draw from those streams while the thread runs (the updates of one
network draw from the replay store alone; the next network's updates start after this one's thread ended).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

DEPTH = 2  # batches held ready: one in use, one more being copied (on a GPU, pinned memory for each)


class BatchesAhead:
    """``count`` results of ``draw()``, drawn in order on a thread at most ``depth`` ahead; ``next()`` returns
    them one by one and raises, with its traceback, whatever a draw raised. Use it as a context manager:
    leaving stops the thread (after the draw in progress), whether every batch was used or not."""

    def __init__(self, draw: Callable[[], Any], count: int, depth: int = DEPTH) -> None:
        if count < 0 or depth < 1:
            raise ValueError(f"BatchesAhead: count must be >= 0 and depth >= 1, got count={count}, depth={depth}")
        self._ready: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._left = count
        self._thread = threading.Thread(target=self._draw_all, args=(draw, count), name="batches-ahead", daemon=True)

    def __enter__(self) -> BatchesAhead:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def next(self) -> Any:
        if self._left == 0:
            raise RuntimeError("BatchesAhead: every batch it was asked for has been used")
        self._left -= 1
        drawn, value = self._wait()
        if not drawn:
            self._left = 0
            raise value
        return value

    def _wait(self) -> tuple[bool, Any]:
        while True:
            try:
                return self._ready.get(timeout=0.1)
            except queue.Empty:
                if not self._thread.is_alive() and self._ready.empty():  # (it may have handed one over meanwhile)
                    raise RuntimeError("BatchesAhead: the drawing thread ended without handing over a batch") from None

    def _draw_all(self, draw: Callable[[], Any], count: int) -> None:
        for _ in range(count):
            if self._stop.is_set():
                return
            try:
                item = (True, draw())
            except BaseException as exc:  # handed to the consumer, which raises it
                self._hand_over((False, exc))
                return
            if not self._hand_over(item):
                return

    def _hand_over(self, item: tuple[bool, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
