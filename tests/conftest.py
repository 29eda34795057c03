import os
from pathlib import Path

import pytest

SHARED = Path(os.environ.get("DIAMOND_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")).resolve()
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance data not found at {CONFORMANCE} (set DIAMOND_SHARED)")
    return CONFORMANCE


@pytest.fixture(scope="session")
def breakout_stores(tmp_path_factory) -> tuple[Path, Path]:
    """Small real Breakout stores (random policy): 400 training steps and 300 test steps."""
    from diamond.jobs import collect

    root = tmp_path_factory.mktemp("breakout")
    collect("atari", "Breakout", "train", 400, root / "train", 1, 0, "sync", log=lambda m: None)
    collect("atari", "Breakout", "test", 300, root / "test", 1, 1, "sync", log=lambda m: None)
    return root / "train", root / "test"
