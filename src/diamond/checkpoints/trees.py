"""Numpy arrays and bytes inside checkpoint states, stored as tensors so that files load with weights_only."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_ARRAY, _BYTES, _DTYPE = "__ndarray__", "__bytes__", "__dtype__"


def to_tensor_tree(obj: Any) -> Any:
    """Replace numpy arrays and bytes (recursively, in dicts, lists and tuples) by tagged tensors."""
    if isinstance(obj, np.ndarray):
        return {_ARRAY: torch.from_numpy(np.ascontiguousarray(obj).copy()), _DTYPE: str(obj.dtype)}
    if isinstance(obj, (bytes, bytearray)):
        return {
            _BYTES: torch.frombuffer(bytearray(obj), dtype=torch.uint8).clone()
            if obj
            else torch.zeros(0, dtype=torch.uint8)
        }
    if isinstance(obj, dict):
        return {k: to_tensor_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_tensor_tree(v) for v in obj)
    return obj


def from_tensor_tree(obj: Any) -> Any:
    """The inverse of ``to_tensor_tree``."""
    if isinstance(obj, dict):
        if _ARRAY in obj:
            return obj[_ARRAY].cpu().numpy().astype(obj[_DTYPE], copy=False)
        if _BYTES in obj:
            return obj[_BYTES].cpu().numpy().tobytes()
        return {k: from_tensor_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_tensor_tree(v) for v in obj)
    return obj
