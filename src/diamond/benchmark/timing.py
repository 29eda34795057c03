"""Timing on one device: seconds per call after a warm-up, and what else used the CPU meanwhile."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from typing import Any

import torch


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_calls(
    fn: Callable[[], Any], repeats: int, warmup: int, dev: torch.device, say: Callable[[str], None], name: str
) -> tuple[list[float], dict[str, Any]]:
    """Seconds per call of ``fn`` after ``warmup`` calls, and what else used the CPU meanwhile (CpuUsage)."""
    for i in range(warmup):
        fn()
        say(f"{name}: warm-up {i + 1}/{warmup}")
    times = []
    usage = CpuUsage(repeats)
    for i in range(repeats):
        sync(dev)
        start = time.perf_counter()
        fn()
        sync(dev)
        times.append(time.perf_counter() - start)
        say(f"{name}: {i + 1}/{repeats} {times[-1]:.4f} s")
    return times, usage.read()


def time_once(fn: Callable[[], Any], dev: torch.device) -> float:
    """Seconds of one call of ``fn`` (a first call: compilation, caches and allocations included)."""
    sync(dev)
    start = time.perf_counter()
    fn()
    sync(dev)
    return time.perf_counter() - start


class CpuUsage:
    """What else happened while the timed iterations ran (figures that explain noisy or slow CPU timings).

    - ``other_cpu_share``: share of the machine's CPU time taken by other processes (and the hypervisor).
      With more busy threads than cores, every OpenMP barrier can wait for a time slice. Linux only.
    - ``system_time_share``: share of our own CPU time spent in the kernel, mostly page faults when
      malloc returns large freed tensors to the OS and the next iteration touches fresh pages again.
    - ``page_faults_per_iter``: minor page faults per timed iteration.
    """

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.start_stat = self._proc_stat()
        self.start_usage = resource.getrusage(resource.RUSAGE_SELF)

    @staticmethod
    def _proc_stat() -> tuple[float, float] | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        return sum(ticks) / hz, (sum(ticks) - ticks[3] - ticks[4]) / hz  # (all, busy) CPU seconds

    def read(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        user = usage.ru_utime - self.start_usage.ru_utime
        system = usage.ru_stime - self.start_usage.ru_stime
        out: dict[str, Any] = {
            "other_cpu_share": None,
            "system_time_share": system / (user + system) if user + system > 0 else 0.0,
            "page_faults_per_iter": (usage.ru_minflt - self.start_usage.ru_minflt) / self.iterations,
        }
        end_stat = self._proc_stat()
        if self.start_stat is not None and end_stat is not None and end_stat[0] > self.start_stat[0]:
            total, busy = end_stat[0] - self.start_stat[0], end_stat[1] - self.start_stat[1]
            out["other_cpu_share"] = min(1.0, max(0.0, (busy - user - system) / total))
        return out
