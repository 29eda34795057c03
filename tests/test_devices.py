"""Choosing the device: `--device auto` follows $DIAMOND_DEVICE when it is set (the suite pins the CPU so)."""

import pytest
import torch

from diamond.devices import resolve_device
from diamond.errors import InvalidValue


def test_auto_follows_the_pinned_device_and_a_bad_pin_is_named(monkeypatch):
    monkeypatch.setenv("DIAMOND_DEVICE", "cpu")
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setenv("DIAMOND_DEVICE", "tpu")
    with pytest.raises(InvalidValue, match=r"\$DIAMOND_DEVICE \(what --device auto means\) 'tpu' is invalid"):
        resolve_device("auto")
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit device needs no pin
    monkeypatch.delenv("DIAMOND_DEVICE")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InvalidValue, match="--device 'cuda:x' is invalid; expected 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device("cuda:x")


def test_every_device_flag_is_the_shared_one_and_parsing_imports_no_torch():
    import argparse
    import subprocess
    import sys

    from diamond.cli import build_parser

    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    helps = {
        name: action.help
        for name, sub in subcommands.items()
        for action in sub._actions
        if "--device" in action.option_strings
    }
    assert {"train", "demo", "study", "imagine", "bench", "play"} <= set(helps)
    assert all("$DIAMOND_DEVICE when set" in h for h in helps.values()), helps
    probe = "import sys, diamond.cli; diamond.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
