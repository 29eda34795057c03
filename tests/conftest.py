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
