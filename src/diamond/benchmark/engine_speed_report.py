"""The text report of ``diamond engine-fps``: each engine's entries (layouts × precisions) and settings, with
each entry's first frames against the engine's first entry's."""

from __future__ import annotations

import math
from typing import Any

from diamond.benchmark.speed_report import fmt


def format_engine_speed(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"engine speed on {m['device']} ({m['device_name']}), torch {m['torch']}, {m['threads']} threads; "
        "batch 1, one step = dynamics 30x56 + upsampler 150x280",
        f"{'engine':<30} {'params':>8} {'setting':<15} {'fps':>8} {'step s':>8} {'dynamics s':>11} "
        f"{'upsampler s':>12} {'changed':>8} {'PSNR':>9}",
    ]
    groups = _by_engine(result)
    for name, e in result["engines"].items():
        params = f"{(e['params']['dynamics'] + e['params']['upsampler']) / 1e6:.1f}M"
        first = name == groups[name.split("/")[0]][0]
        for setting, f in e["settings"].items():
            q = e["quality"][setting]
            changed = "-" if first else f"{q['changed_pixel_fraction']:.2%}"
            db = "-" if first else "identical" if math.isinf(q["psnr_db"]) else f"{q['psnr_db']:.1f} dB"
            lines.append(
                f"{name:<30} {params:>8} {setting:<15} {fmt(f['fps']):>8} {fmt(f['median_step_s']):>8} "
                f"{fmt(f['dynamics']['median_s']):>11} {fmt(f['upsampler']['median_s']):>12} {changed:>8} {db:>9}"
            )
    if any(len(names) > 1 for names in groups.values()):
        lines.append(
            "changed, PSNR: the first 150x280 frame of each setting (8-bit) against the same engine's first entry's, "
            "from the same state and noise"
        )
    shares = [f.get("other_cpu_share") for e in result["engines"].values() for f in e["settings"].values()]
    shares = [s for s in shares if s is not None]
    if shares:
        lines.append(f"other processes used up to {max(shares):.0%} of the machine's CPU time while timing")
    return "\n".join(lines)


def _by_engine(result: dict[str, Any]) -> dict[str, list[str]]:
    """Each engine's entries (its layouts and precisions), first entry first."""
    out: dict[str, list[str]] = {}
    for name in result["engines"]:
        out.setdefault(name.split("/")[0], []).append(name)
    return out
