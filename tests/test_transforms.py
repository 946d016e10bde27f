"""The affine Lie-group transformations of VITAE's spatial transformer (encoders/transforms.py)."""

import numpy as np
import pytest
import torch

from encoders.transforms import affine_matrix, affine_warp


def _blob(size: int = 64) -> torch.Tensor:
    """A smooth test image (1, 1, size, size): an off-centre Gaussian blob, well inside the frame."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    return torch.exp(-((x - 0.2) ** 2 + (y + 0.1) ** 2) / (2 * 0.15**2))[None, None]


def test_the_inverse_is_the_negated_velocity():
    gamma = torch.randn(8, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.3
    a, b = affine_matrix(gamma), affine_matrix(-gamma)
    np.testing.assert_allclose((a @ b).numpy(), np.broadcast_to(np.eye(3), (8, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(a[:, 2].numpy(), np.broadcast_to([0, 0, 1], (8, 3)), atol=1e-15)
    np.testing.assert_array_equal(affine_matrix(torch.zeros(1, 6)).numpy()[0], np.eye(3))


def test_a_translation_velocity_moves_the_image_by_that_much():
    image = _blob()
    moved = affine_warp(image, torch.tensor([[0.0, 0.0, 0.25, 0.0, 0.0, 0.0]]))  # +0.25 in x = 8 pixels of 64
    np.testing.assert_allclose(moved[0, 0, :, 8:].numpy(), image[0, 0, :, :-8].numpy(), atol=1e-5)


def test_warping_by_minus_gamma_undoes_gamma_up_to_interpolation():
    image = _blob().repeat(4, 1, 1, 1)
    gamma = torch.tensor([[0.1, -0.2, 0.1, 0.15, 0.05, -0.1], [0.0, 0.4, 0.0, -0.4, 0.0, 0.0],  # shear; rotation
                          [0.2, 0.0, 0.0, 0.0, 0.2, 0.0], [0.0, 0.0, -0.2, 0.0, 0.0, 0.2]])  # zoom; translation
    there = affine_warp(image, gamma)
    back = affine_warp(there, -gamma)
    assert (there - image).abs().max() > 0.2  # it moved
    # and came back: linear interpolation errs by up to h²/8 · |f''| per axis and pass, h = 2/64, |f''| ≤ 1/0.15²,
    # so ≈ 0.0054 × 2 axes × 2 passes ≈ 0.022 at most; the mean error is far smaller
    assert (back - image).abs().max() < 0.03 and (back - image).abs().mean() < 0.002


def test_the_warp_is_differentiable_in_gamma():
    gamma = torch.zeros(1, 6, requires_grad=True)
    affine_warp(_blob(), gamma).mul(torch.linspace(0, 1, 64)).sum().backward()
    assert gamma.grad[0, 2] > 0  # moving right raises an x-weighted sum


@pytest.mark.parametrize("gamma, match", [(torch.zeros(2, 5), r"gamma: expected shape \(N, 6\)"),
                                          (torch.full((1, 6), float("nan")), "gamma: expected finite")])
def test_bad_velocities_are_refused(gamma, match):
    with pytest.raises(ValueError, match=match):
        affine_matrix(gamma)
    with pytest.raises(ValueError, match="images, gamma: expected"):
        affine_warp(torch.zeros(3, 1, 8, 8), torch.zeros(2, 6))
