"""Counting the FLOPs of one call: matrix products, convolutions and attention (``torch.utils.flop_counter``),
the CPU's flash-attention kernels included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def _sdpa_shapes_flops(query_shape, key_shape, value_shape) -> int:
    """2 FLOPs per multiply-add of q·kᵀ and of softmax(·)·v over (batch, heads, tokens, head dim) tensors."""
    b, heads, s_q, d = query_shape
    s_k, d_v = key_shape[-2], value_shape[-1]
    return 2 * b * heads * s_q * s_k * d + 2 * b * heads * s_q * s_k * d_v


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return _sdpa_shapes_flops(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward_flops(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return 2 * _sdpa_shapes_flops(query_shape, key_shape, value_shape)  # four products instead of two


def _custom_flop_mapping() -> dict[Any, Any]:
    # torch's counter knows the CUDA attention kernels but not the CPU flash kernel that SDPA picks on CPU.
    aten = torch.ops.aten
    mapping = {}
    for name, fn in (
        ("_scaled_dot_product_flash_attention_for_cpu", _cpu_sdpa_flops),
        ("_scaled_dot_product_flash_attention_for_cpu_backward", _cpu_sdpa_backward_flops),
    ):
        if hasattr(aten, name):
            mapping[getattr(aten, name)] = fn  # the counter looks up overload packets
    return mapping


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs (matmuls, convolutions, attention) of one call of ``fn``."""
    with FlopCounterMode(display=False, custom_mapping=_custom_flop_mapping()) as counter:
        fn()
    return int(counter.get_total_flops())
