"""Runs `diamond store repair DIR` and SIGKILLs itself right after one of the repair's steps.

Usage: python repair_crash_driver.py STEP DIR, where STEP names a step function of diamond.data.repair
(``_write_record``, ``_commit_index``, ``_adjust_count``, ``_move_damaged``) or ``link`` (killed between
linking a damaged file into damaged/ and unlinking it from the store). Used by test_store_repair.py.
"""

from __future__ import annotations

import os
import signal
import sys

from diamond.cli import main
from diamond.data import repair


def die_after(function):
    def wrapper(*args, **kwargs):
        out = function(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return out

    return wrapper


if __name__ == "__main__":
    step, store = sys.argv[1], sys.argv[2]
    if step == "link":
        os.link = die_after(os.link)
    else:
        setattr(repair, step, die_after(getattr(repair, step)))
    raise SystemExit(main(["store", "repair", store]))
