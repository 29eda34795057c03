import torch

from diamond.imaging import quantize, to_display, to_model_range, to_uint8


def test_to_display_inverts_to_model_range_exactly_where_truncation_does_not():
    levels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_display(to_model_range(levels)), levels)
    assert torch.equal(to_display(quantize(torch.linspace(-1, 1, 1001))), to_uint8(torch.linspace(-1, 1, 1001)))
    assert (to_uint8(to_model_range(levels)) != levels).any()  # why to_display exists
