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
