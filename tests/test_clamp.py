import pytest
import torch

from encoders.clamp import clamp_latents, invariance_penalty

Z = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 9.0, 11.0]])
ACTIVE = torch.tensor([True, False, False])


@pytest.mark.parametrize("mode, held", [("first", [2.0, 3.0]), ("mean", [16 / 3, 20 / 3])])
def test_forward_holds_inactive_latents(mode, held):
    out = clamp_latents(Z, ACTIVE, mode)
    torch.testing.assert_close(out[:, 0], Z[:, 0])
    torch.testing.assert_close(out[:, 1:], torch.tensor([held] * 3))


@pytest.mark.parametrize("invariance", [0.0, 0.01])
def test_backward_against_hand_computed_gradient(invariance):
    z = Z.clone().requires_grad_(True)
    weights = torch.tensor([[1.0, -1.0, 2.0], [0.5, 0.0, 1.0], [-2.0, 3.0, 1.0]])
    ((clamp_latents(z, ACTIVE, "first") * weights).sum() + invariance * invariance_penalty(z, ACTIVE)).backward()
    # active column: d/dz of Σ w·z = w. inactive columns: invariance · (z - batch mean), by hand:
    # column 1 (2, 5, 9), mean 16/3 -> z - mean = (-10/3, -1/3, 11/3)
    # column 2 (3, 6, 11), mean 20/3 -> z - mean = (-11/3, -2/3, 13/3)
    expected = torch.tensor([[1.0, -10 / 3 * invariance, -11 / 3 * invariance],
                             [0.5, -1 / 3 * invariance, -2 / 3 * invariance],
                             [-2.0, 11 / 3 * invariance, 13 / 3 * invariance]])
    torch.testing.assert_close(z.grad, expected)


def test_unknown_mode_raises():
    with pytest.raises(ValueError, match="clamp: expected one of"):
        clamp_latents(Z, ACTIVE, "median")


def test_transformation_batches_vary_one_thing():
    rng = __import__("numpy").random.default_rng(0)
    import numpy as np

    from abc_inverse.model.scene import ScenePrior
    from encoders.batches import active_latents, draw_batch_type, transformation_scenes

    for prior in (ScenePrior(4, 3), ScenePrior(4, 3, lighting="rich")):
        intrinsic = {"shape", "albedo", "lighting"} if prior.lighting_columns else {"shape", "albedo"}
        for kind, camera, varied in (("azimuth", True, {"azimuth"}), ("elevation", True, {"elevation"}),
                                     ("light", True, {"light_azimuth"}), ("intrinsic", False, intrinsic),
                                     ("intrinsic", True, {*intrinsic, "camera"})):
            scenes = transformation_scenes(prior, rng, kind, 5, intrinsic_camera=camera)
            prior.validate(scenes)
            for name, value in scenes._asdict().items():
                spread = np.ptp(value, axis=0).max(initial=0)
                assert (spread > 0) == (name in varied), (kind, name)
        assert active_latents(kind, 6).sum() == (3 if kind == "intrinsic" else 1)
    kinds = [draw_batch_type(rng, 10.0) for _ in range(2600)]
    assert abs(kinds.count("intrinsic") / 2600 - 10 / 13) < 4 * np.sqrt((10 / 13) * (3 / 13) / 2600)
    with pytest.raises(ValueError, match="latent_dim"):
        active_latents("azimuth", 3)
