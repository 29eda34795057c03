"""Progress with an ETA in the units users think in (denoiser updates, agent steps, epochs).

On a terminal it is a tqdm bar; otherwise (logs, CI, nohup) it prints a plain line at most every
``interval`` seconds, so long jobs still say how far they are and how long is left.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    def __init__(
        self,
        total: int,
        initial: int = 0,
        unit: str = "step",
        desc: str = "",
        enabled: bool = True,
        interval: float = 30.0,
        log: Callable[[str], None] | None = None,
        time_budget_s: float | None = None,
    ) -> None:
        self.total, self.n, self.unit, self.desc = total, initial, unit, desc
        self.enabled, self.interval = enabled, interval
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._start_n, self._start = initial, time.monotonic()
        self._last_print = self._start
        self._postfix = ""
        self._deadline = None if time_budget_s is None else self._start + time_budget_s
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, mininterval=1.0)

    def eta_seconds(self) -> float | None:
        """Seconds left: at the current rate, or until the time budget runs out if that comes first."""
        done = self.n - self._start_n
        if done <= 0:
            return None
        eta = (time.monotonic() - self._start) / done * (self.total - self.n)
        if self._deadline is not None:
            eta = min(eta, max(0.0, self._deadline - time.monotonic()))
        return eta

    def update(self, k: int = 1, **postfix: str) -> None:
        self.n += k
        self._postfix = " ".join(f"{key}={value}" for key, value in postfix.items())
        if self._bar is not None:
            self._bar.update(k)
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
        elif self.enabled and time.monotonic() - self._last_print >= self.interval:
            self._last_print = time.monotonic()
            self.log(self.line())

    def line(self) -> str:
        elapsed = time.monotonic() - self._start
        rate = (self.n - self._start_n) / elapsed if elapsed > 0 else 0.0
        eta = self.eta_seconds()
        eta_text = format_duration(eta) if eta is not None else "?"
        if self._deadline is not None and eta is not None and eta >= self._deadline - time.monotonic() - 1:
            eta_text += " (time budget)"
        return (
            f"{self.desc}: {self.n}/{self.total} {self.unit}s ({100 * self.n / max(1, self.total):.0f}%), "
            f"{rate:.2f} {self.unit}/s, elapsed {format_duration(elapsed)}, ETA {eta_text} {self._postfix}"
        ).rstrip()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
