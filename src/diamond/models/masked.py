"""Means over the unpadded entries of a batch, computed without reading the device: no boolean indexing
(whose output size the host must know) and no branch on the data."""

from __future__ import annotations

from torch import Tensor


def masked_mean(values: Tensor, mask: Tensor, count: Tensor | None = None) -> Tensor:
    """The mean of ``values`` over the entries where ``mask`` is True.

    ``mask`` has the leading dimensions of ``values``; each masked-in entry counts with all its trailing
    elements (a frame's pixels). ``count``: the number of masked-in entries to divide by instead of this
    batch's own (data-parallel training: the global count over the number of processes). With no entry the
    mean is 0, with a zero gradient.
    """
    extra = values.ndim - mask.ndim
    keep = mask.reshape(*mask.shape, *([1] * extra))
    total = values.where(keep, values.new_zeros(())).sum()
    n = mask.sum().to(values.dtype) if count is None else count.to(values.dtype)
    per_entry = values[(0,) * mask.ndim].numel() if extra else 1
    return total / (n * per_entry).clamp_min(1e-12)
