"""The authors' pretrained CS:GO engine (spec §10) on the Hugging Face Hub: the model in the reference layout
(``csgo/model/csgo.pt``, keys ``denoiser.*`` and ``upsampler.*``), the spawn points (``csgo/spawn/<k>/``) and
their configuration files (``csgo/config/...``), fetched with huggingface_hub or found in its cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from diamond.checkpoints.files import CheckpointError
from diamond.errors import InvalidValue

HUB_REPO = "eloialonso/diamond"
HUB_ENGINES = {"csgo": ("csgo/model/csgo.pt", "csgo/spawn", "csgo/config")}  # name -> (model, spawn, config)


@dataclass(frozen=True)
class HubEngine:
    """Local paths of a pretrained engine: its checkpoint, its spawn-point folder, its config folder (or None)."""

    checkpoint: Path
    spawn_dir: Path
    config_dir: Path | None


def download_engine(name: str = "csgo") -> HubEngine:
    """The authors' pretrained engine ``name``, fetched (or found in the cache) with huggingface_hub.

    huggingface_hub's own settings apply: ``HF_HUB_CACHE`` for the cache, ``HF_HUB_OFFLINE=1`` to use the
    cache only, ``HF_TOKEN``.
    """
    if name not in HUB_ENGINES:
        raise InvalidValue(f"--from-hub {name}: unknown engine; the Hub holds {sorted(HUB_ENGINES)}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise InvalidValue("--from-hub needs huggingface_hub; install it with: pip install 'diamond-wm[play]'") from exc
    model, spawn, config = HUB_ENGINES[name]
    patterns = [f"{model.rsplit('/', 1)[0]}/*", f"{spawn}/*", f"{config}/*"]
    try:
        root = Path(snapshot_download(repo_id=HUB_REPO, allow_patterns=patterns))
    except Exception as exc:  # offline with an empty cache, no network, repository or revision missing...
        raise CheckpointError(
            f"--from-hub {name}: could not get {', '.join(patterns)} from {HUB_REPO} ({type(exc).__name__}: {exc}); "
            f"download them yourself and pass --checkpoint PATH"
        ) from exc
    missing = [p for p in (model, spawn) if not (root / p).exists()]
    if missing:  # an offline cache holding another part of the repository only
        raise CheckpointError(f"--from-hub {name}: {HUB_REPO} as found in {root} has no {' and no '.join(missing)}")
    return HubEngine(root / model, root / spawn, root / config if (root / config).is_dir() else None)
