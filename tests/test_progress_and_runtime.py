"""Progress lines with an ETA, and the allocator tuning used by the CLI."""

import subprocess
import sys
import textwrap
import time

from diamond.progress import Progress, format_duration


def test_plain_progress_lines_carry_rate_and_eta():
    lines: list[str] = []
    p = Progress(total=10, unit="update", desc="denoiser", interval=0.0, log=lines.append)
    time.sleep(0.01)
    p.update(2, loss="0.5")
    assert lines and "denoiser: 2/10 updates (20%)" in lines[-1] and "ETA" in lines[-1] and "loss=0.5" in lines[-1]
    assert p.eta_seconds() is not None and p.eta_seconds() > 0


def test_time_budget_caps_the_eta():
    lines: list[str] = []
    p = Progress(total=1_000_000, unit="update", interval=0.0, log=lines.append, time_budget_s=5.0)
    time.sleep(0.01)
    p.update(1)
    assert p.eta_seconds() <= 5.0 and "(time budget)" in lines[-1]


def test_format_duration():
    assert format_duration(59) == "00:59" and format_duration(3725) == "1:02:05"


def test_keep_freed_memory_stops_page_faults_on_reallocation():
    # A 64 MiB buffer allocated and freed repeatedly: with the tuning the pages stay in the heap, so once the
    # heap has grown, allocations fault (almost) nothing in; without it each one is a fresh mmap.
    script = textwrap.dedent("""
        import resource, sys
        import torch
        from diamond.runtime import keep_freed_memory
        if sys.argv[1] == "on":
            assert keep_freed_memory()
        for _ in range(10):  # the heap grows to its working size during the first few allocations
            torch.ones(1 << 24).sum()
        rounds = []
        for _ in range(3):  # the quietest round: the kernel's own page moves (NUMA balancing) fault pages too
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(5):
                torch.ones(1 << 24).sum()  # 64 MiB of float32, as large activations are
            rounds.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        print(min(rounds))
    """)
    faults = {
        mode: int(
            subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True).stdout
        )
        for mode in ("on", "off")
    }
    assert faults["off"] > 5 * 10_000  # 16,384 fresh 4 KiB pages per allocation
    assert faults["on"] < faults["off"] / 10
