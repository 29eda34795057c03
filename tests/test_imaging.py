import torch

from diamond.imaging import quantize, to_display, to_model_range, to_uint8


def test_to_display_inverts_to_model_range_exactly_where_truncation_does_not():
    levels = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_display(to_model_range(levels)), levels)
    assert torch.equal(to_display(quantize(torch.linspace(-1, 1, 1001))), to_uint8(torch.linspace(-1, 1, 1001)))
    assert (to_uint8(to_model_range(levels)) != levels).any()  # why to_display exists


def test_downscale_frames_is_bicubic_in_model_range_rounded_back_chunk_by_chunk():
    import numpy as np

    from diamond.imaging import downscale_frames

    frames = np.random.default_rng(0).integers(0, 256, size=(5, 3, 150, 280), dtype=np.uint8)
    x = torch.from_numpy(frames).float() / 255 * 2 - 1
    y = torch.nn.functional.interpolate(x, size=(30, 56), mode="bicubic", align_corners=False)
    expected = ((y.clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8).numpy()
    got = downscale_frames(frames, (30, 56), chunk=2)
    assert got.shape == (5, 3, 30, 56) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    flat = np.full((1, 3, 150, 280), 77, dtype=np.uint8)  # a flat image stays exactly flat
    assert (downscale_frames(flat, (30, 56)) == 77).all()
