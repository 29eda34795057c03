"""`diamond convert` for engines (spec §10) both ways, and `diamond engine-fps --from-hub csgo` offline from a
cache laid out as the Hub's: real subprocesses, real files, exit codes and messages."""

import json

import torch

from cli_subprocess import error_of, ok
from diamond.checkpoints.engine import load_engine
from diamond.checkpoints.project import load_checkpoint
from diamond.models.engine import EngineState


def test_engine_converts_to_a_project_checkpoint_and_back_exactly(conformance_dir, tmp_path):
    ref = conformance_dir / "engine_reference_format.pt"
    ok("convert", "--from-reference", ref, tmp_path / "engine.pt")  # found to be an engine by its upsampler.*
    payload = load_checkpoint(tmp_path / "engine.pt")
    assert payload["kind"] == "engine" and set(payload) >= {"config", "dynamics", "upsampler"}
    ok("convert", "--to-reference", "--engine", tmp_path / "engine.pt", tmp_path / "back.pt")
    original = torch.load(ref, weights_only=True)
    back = torch.load(tmp_path / "back.pt", weights_only=True)
    assert back.keys() == original.keys()
    assert all(back[k].dtype == original[k].dtype and torch.equal(back[k], original[k]) for k in original)

    engines = [load_engine(p) for p in (ref, tmp_path / "engine.pt", tmp_path / "back.pt")]
    assert engines[0].cfg.dynamics == engines[1].cfg.dynamics and engines[0].cfg.upsampler == engines[1].cfg.upsampler
    g = torch.Generator().manual_seed(0)
    state = EngineState(
        torch.rand(1, 4, 3, 30, 56, generator=g) * 2 - 1,
        torch.randint(0, 2, (1, 4, 51), generator=g).float(),
        torch.rand(1, 1, 3, 150, 280, generator=g) * 2 - 1,
    )
    for setting in ("fast", "higher_quality"):
        outs = [e.step(state, e.cfg.sampling(setting), torch.Generator().manual_seed(1)) for e in engines]
        for low, full in outs[1:]:
            assert torch.equal(low, outs[0][0]) and torch.equal(full, outs[0][1]), setting


def test_engine_conversion_errors_name_what_is_wrong(conformance_dir, tmp_path):
    atari = conformance_dir / "small_agent_reference_format.pt"
    err = error_of("convert", "--from-reference", "--engine", atari, tmp_path / "e.pt")
    assert "small_agent_reference_format.pt" in err and "no ['upsampler']" in err
    err = error_of("convert", "--to-reference", "--engine", atari, tmp_path / "e.pt")
    assert "no ['upsampler']" in err and not (tmp_path / "e.pt").exists()
    ok("convert", "--from-reference", conformance_dir / "engine_reference_format.pt", tmp_path / "engine.pt")
    err = error_of("convert", "--from-reference", tmp_path / "engine.pt", tmp_path / "again.pt")
    assert "not in the reference layout" in err and "--to-reference" in err
    before = (tmp_path / "engine.pt").read_bytes()
    err = error_of(
        "convert", "--from-reference", conformance_dir / "engine_reference_format.pt", tmp_path / "engine.pt"
    )
    assert "already exists" in err and "--force" in err and (tmp_path / "engine.pt").read_bytes() == before


def test_engine_fps_from_hub_reads_the_huggingface_cache_offline(csgo_hub_cache, tmp_path):
    model = csgo_hub_cache / "models--eloialonso--diamond" / "snapshots" / ("0" * 40) / "csgo" / "model" / "csgo.pt"
    offline = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(csgo_hub_cache), "OMP_NUM_THREADS": "1"}
    out = ok(
        "engine-fps",
        "--from-hub",
        "csgo",
        "--steps",
        1,
        "--warmup",
        0,
        "--layout",
        "contiguous",
        "--precision",
        "float32",
        "--json",
        tmp_path / "f.json",
        env=offline,
    )
    assert str(model) in out.stderr and "spawn" in out.stderr
    result = json.loads((tmp_path / "f.json").read_text())
    assert list(result["engines"]) == ["csgo"] and result["engines"]["csgo"]["source"] == str(model)
    err = error_of("engine-fps", "--from-hub", "csgo", env={**offline, "HF_HUB_CACHE": str(tmp_path / "empty")})
    assert "--from-hub csgo: could not get csgo/model/*" in err and "--checkpoint" in err
