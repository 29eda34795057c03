"""The one thread on which the players do all their torch work: loading, sessions, steps, commands.

Why one thread. PyTorch's CPU builds parallelise with GNU OpenMP, which keeps a pool of worker threads for
each thread that starts parallel work. A pool's workers spin between parallel regions only while the
process has no more pool threads than CPUs; past that they fall back to sleeping, and waking them costs
more than a batch-1 convolution. A player that loaded its models on the main thread and stepped on a worker
thread owned two pools, so every step paid the wake-ups: on a 2-core CPU the paper-size world model
stepped in about 200 ms in float32 and in bfloat16 alike, against 150–200 ms and 120–150 ms when every
call ran on one thread. So the window and the browser players hand every call that touches a model to
this thread; the main thread draws, reads keys or serves the page.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
THREAD_NAME = "diamond-compute"
_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """The process's compute thread (started at the first call; its work runs in submission order)."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        return _executor


def on_compute_thread() -> bool:
    return threading.current_thread().name.startswith(THREAD_NAME)


def submit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future:
    return executor().submit(fn, *args, **kwargs)


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the compute thread, waited for (directly when already on it)."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    return submit(fn, *args, **kwargs).result()


async def run_async(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``run`` for asyncio code: the event loop keeps serving while the compute thread works."""
    return await asyncio.wrap_future(submit(fn, *args, **kwargs))
