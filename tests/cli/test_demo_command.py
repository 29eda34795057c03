"""``diamond demo``: `diamond train --preset cpu --out DIR` the first time, a resume of DIR afterwards."""

from diamond.cli import agent, main
from diamond.layout import AgentRun


def test_demo_starts_the_cpu_preset_then_resumes_its_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(agent, "cmd_train", lambda args: calls.append(args) or 0)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--device", "cpu"]) == 0
    checkpoint = out / AgentRun.CHECKPOINT
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"")  # what a first epoch leaves
    assert main(["demo", "--out", str(out), "--device", "cpu"]) == 0
    first, again = calls
    assert (first.preset, first.out, first.resume, first.device) == ("cpu", str(out), None, "cpu")
    assert (again.preset, again.out, again.resume, again.device) == (None, None, str(out), "cpu")
    assert not first.model_free and first.set is None and not again.allow_config_change
