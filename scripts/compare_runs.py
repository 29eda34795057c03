"""Compare two `diamond train` run folders: results.json and metrics.jsonl, ignoring timings and paths.

Usage: python scripts/compare_runs.py RUN_A RUN_B
Prints every difference and exits 1 if there is any (0 if the runs agree).
Ignored: results.json's train_seconds, final_seconds and the paths (learning_curve, videos); the
metrics lines' time/* entries and imagined_frames_per_s (a throughput).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

IGNORED_RESULTS = {"train_seconds", "final_seconds", "learning_curve", "videos"}


def ignored_metric(key: str) -> bool:
    return key.startswith("time/") or key == "imagined_frames_per_s"


def differences(a: Any, b: Any, where: str) -> list[str]:
    """Every place where two JSON values differ, as 'where: a != b'."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            here = f"{where}.{key}" if where else key
            if key not in a or key not in b:
                out.append(f"{here}: only in {'B' if key not in a else 'A'}")
            else:
                out += differences(a[key], b[key], here)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def compare(run_a: Path, run_b: Path) -> list[str]:
    results = [
        {k: v for k, v in json.loads((r / "results.json").read_text()).items() if k not in IGNORED_RESULTS}
        for r in (run_a, run_b)
    ]
    out = differences(results[0], results[1], "results.json")
    metrics = [
        [
            {k: v for k, v in json.loads(line).items() if not ignored_metric(k)}
            for line in (r / "metrics.jsonl").read_text().splitlines()
        ]
        for r in (run_a, run_b)
    ]
    return out + differences(metrics[0], metrics[1], "metrics.jsonl")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a, b = map(Path, argv)
    for run in (a, b):
        for name in ("results.json", "metrics.jsonl"):
            if not (run / name).is_file():
                print(f"{run}: no {name}; is it a finished `diamond train` run folder?", file=sys.stderr)
                return 2
    found = compare(a, b)
    for line in found:
        print(line)
    print(f"{len(found)} difference(s) between {a} and {b} (timings and paths ignored)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
