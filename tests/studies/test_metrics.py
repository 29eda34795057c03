"""The studies' measures (spec §9): drift as distance to the nearest real frame, regional sharpness."""

from __future__ import annotations

import numpy as np
import torch

from diamond.studies.metrics import colour_region, frame_features, laplacian_energy, nearest_distances, psnr_per_frame


def test_nearest_distance_is_zero_for_bank_members_and_grows_with_noise():
    rng = np.random.default_rng(0)
    bank_frames = rng.integers(0, 256, (50, 3, 64, 64), dtype=np.uint8)
    bank = frame_features(bank_frames, 16)
    assert bank.shape == (50, 3 * 16 * 16)
    assert np.allclose(nearest_distances(bank[:5], bank), 0, atol=1e-3)
    noisy = np.clip(bank_frames[:5].astype(int) + rng.normal(0, 40, (5, 3, 64, 64)), 0, 255).astype(np.uint8)
    far = np.full((5, 3, 64, 64), 255, np.uint8)
    d_noisy = nearest_distances(frame_features(noisy, 16), bank)
    d_far = nearest_distances(frame_features(far, 16), bank)
    assert (d_noisy > 0).all() and (d_far > d_noisy).all()
    brute = torch.cdist(frame_features(far, 16), bank).min(1).values / (3 * 256) ** 0.5
    assert np.allclose(d_far, brute.numpy(), rtol=1e-5)


def test_laplacian_energy_falls_with_blur_and_respects_the_mask():
    rng = np.random.default_rng(1)
    sharp = rng.integers(0, 256, (1, 3, 32, 32), dtype=np.uint8)
    blurred = torch.nn.functional.avg_pool2d(torch.from_numpy(sharp).float(), 3, 1, 1).to(torch.uint8).numpy()
    mask = np.zeros((1, 32, 32), bool)
    mask[:, 8:20, 8:20] = True
    assert laplacian_energy(blurred, mask)[0] < 0.3 * laplacian_energy(sharp, mask)[0]
    flat = np.full((1, 3, 32, 32), 90, np.uint8)
    flat[:, :, :, 24:] = sharp[:, :, :, 24:]  # texture only outside the mask
    assert laplacian_energy(flat, mask)[0] == 0
    assert np.isnan(laplacian_energy(sharp, np.zeros((1, 32, 32), bool))[0])


def test_colour_regions_find_the_white_and_the_black_boxer():
    frames = np.zeros((2, 3, 64, 64), np.uint8)
    frames[:, 1] = 150  # the green ring
    frames[0, :, 20:30, 10:15] = 214  # white boxer
    frames[0, :, 30:40, 40:44] = 0  # black boxer
    frames[0, :, 2, 30] = 0  # a black score digit above the ring: ignored
    white, black = colour_region(frames, "white", pad=1), colour_region(frames, "black", pad=1)
    rows, cols = np.nonzero(white[0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (19, 30, 9, 15)
    rows, cols = np.nonzero(black[0])
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (29, 40, 39, 44)
    assert not white[1].any() and not black[1].any()


def test_psnr_per_frame():
    a = np.zeros((2, 3, 4, 4), np.uint8)
    b = a.copy()
    b[1] = 255
    out = psnr_per_frame(a, b)
    assert np.isinf(out[0]) and abs(out[1]) < 1e-9
