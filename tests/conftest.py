import os
from pathlib import Path

import numpy as np
import pytest

# Every command and every `--device auto` of the suite runs on this device (the CPU unless the developer
# pins another: DIAMOND_DEVICE=cuda runs the whole suite on a GPU). Tests of a GPU path name cuda themselves.
os.environ.setdefault("DIAMOND_DEVICE", "cpu")

SHARED = Path(os.environ.get("DIAMOND_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared")).resolve()
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance data not found at {CONFORMANCE} (set DIAMOND_SHARED)")
    return CONFORMANCE


@pytest.fixture(scope="session")
def csgo_hub_cache(conformance_dir, tmp_path_factory) -> Path:
    """A Hugging Face cache (HF_HUB_CACHE) holding eloialonso/diamond's csgo/ files as huggingface_hub lays
    them out: the engine conformance checkpoint as csgo/model/csgo.pt and two random spawn points."""
    import shutil

    root = tmp_path_factory.mktemp("hub")
    revision = "0" * 40
    repo = root / "models--eloialonso--diamond"
    snap = repo / "snapshots" / revision / "csgo"
    (snap / "model").mkdir(parents=True)
    shutil.copy(conformance_dir / "engine_reference_format.pt", snap / "model" / "csgo.pt")
    rng = np.random.default_rng(0)
    for k in range(2):
        d = snap / "spawn" / str(k)
        d.mkdir(parents=True)
        np.save(d / "low_res.npy", rng.integers(0, 256, (4, 3, 30, 56), dtype=np.uint8))
        np.save(d / "full_res.npy", rng.integers(0, 256, (4, 3, 150, 280), dtype=np.uint8))
        np.save(d / "act.npy", rng.integers(0, 2, (4, 51)).astype(np.int64))
        np.save(d / "next_act.npy", rng.integers(0, 2, (10, 51)).astype(np.int64))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return root


@pytest.fixture(scope="session")
def breakout_stores(tmp_path_factory) -> tuple[Path, Path]:
    """Small real Breakout stores (random policy): 400 training steps and 300 test steps."""
    from diamond.jobs import collect

    root = tmp_path_factory.mktemp("breakout")
    collect("atari", "Breakout", "train", 400, root / "train", 1, 0, "sync", log=lambda m: None)
    collect("atari", "Breakout", "test", 300, root / "test", 1, 1, "sync", log=lambda m: None)
    return root / "train", root / "test"


ENGINE_FRAMES = 20  # frames per episode of the small engine dataset


def panning_scene(offset: float) -> np.ndarray:
    """A 150×280 BGR frame of vertical stripes shifted by the accumulated turning (a panning view)."""
    x = np.arange(280)[None, :] + offset
    stripes = (127 + 120 * np.sin(x / 9.0)) * np.ones((150, 1))
    frame = np.stack([stripes, np.roll(stripes, 40, axis=1), 255 - stripes], axis=-1)
    return frame.clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def engine_dataset(tmp_path_factory) -> Path:
    """A static dataset imported from 5 real HDF5 files of 20 frames (files 3 and 4 held out): walking
    forward while turning by ±30 or 0, the view panning with the turns."""
    pytest.importorskip("h5py")
    from diamond.data.hdf5_episodes import episode_file_name, write_hdf5_episode
    from diamond.data.static_import import import_hdf5_dataset
    from diamond.fps_actions import encode

    root = tmp_path_factory.mktemp("engine-data")
    source = root / "source"
    source.mkdir()
    rng = np.random.default_rng(0)
    for number in range(5):
        turns = rng.choice([-30, 0, 30], size=ENGINE_FRAMES)
        offsets = np.concatenate([[0], np.cumsum(turns[:-1] / 10)])
        frames = np.stack([panning_scene(o) for o in offsets])
        actions = np.stack([encode(["w"], float(dx), 0.0) for dx in turns])
        write_hdf5_episode(source / episode_file_name(number), frames, actions)
    split = {episode_file_name(3), episode_file_name(4)}
    import_hdf5_dataset(source, root / "dataset", split, progress=False, log=lambda m: None)
    return root / "dataset"
