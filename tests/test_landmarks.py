import numpy as np
import pytest

from abc_inverse.model.landmarks import (
    CORRESPONDENCE,
    angles_of,
    build_correspondence,
    canonical_landmarks,
    head_pose,
    similarity_fit,
)
from abc_inverse.model.scene import camera_position_mm
from abc_inverse.render.simulator import Simulator, rotation_matrices


@pytest.fixture(scope="module")
def sim():
    return Simulator()


def landmarks_of(sim, scene, size=512):
    """MediaPipe-style landmarks (468, 3) of a scene: our renderer's perspective projection of each landmark's
    vertex, in pixels (y down), depth in pixel units, negative towards the camera."""
    with np.load(CORRESPONDENCE) as z:
        vertex = z["vertex"]
    rotation = rotation_matrices(scene.azimuth, scene.elevation)[0]
    view = sim.model.shape(scene.shape)[0][vertex].astype(np.float64) @ rotation.T - camera_position_mm(scene.camera)[0]
    focal = 0.5 * size / np.tan(np.radians(sim.settings.fov_deg) / 2)
    depth = -view[:, 2]
    return np.stack([size / 2 + focal * view[:, 0] / depth, size / 2 - focal * view[:, 1] / depth,
                     (depth - depth.mean()) * focal / depth.mean()], axis=1)


@pytest.mark.parametrize("azimuth, elevation", [(0, 0), (30, 10), (-35, -15), (40, -20), (60, 0), (0, 35)])
def test_head_pose_of_a_rendered_face_whose_pose_is_known(sim, azimuth, elevation):
    for seed in (None, 1, 2):  # the mean face and two identities from the prior
        pose = head_pose(landmarks_of(sim, sim.prior.at_angles(azimuth, elevation, 0.0, seed)))
        # weak perspective against the renderer's camera 450-550 mm away: within 1.5°, measured 1.3° at most
        assert abs(pose["azimuth"] - azimuth) < 1.5 and abs(pose["elevation"] - elevation) < 1.5, pose
        assert abs(pose["roll"]) < 1.0, pose


def test_roll_is_the_turn_in_the_image(sim):
    points = landmarks_of(sim, sim.prior.at_angles(20.0, 0.0, 0.0, None))
    turn = np.radians(15.0)  # counter-clockwise as seen (y down in pixels)
    centre = points[:, :2].mean(0)
    x, y = (points[:, :2] - centre).T
    turned = points.copy()
    turned[:, 0] = centre[0] + np.cos(turn) * x + np.sin(turn) * y
    turned[:, 1] = centre[1] - np.sin(turn) * x + np.cos(turn) * y
    pose = head_pose(turned)
    assert abs(pose["roll"] - 15.0) < 1.0 and abs(pose["azimuth"] - 20.0) < 2.0, pose


def test_similarity_fit_and_angles_known_answers(rng):
    source = rng.normal(size=(20, 3))
    rotation = rotation_matrices(np.radians([25.0]), np.radians([-10.0]))[0]
    scale, fitted, shift = similarity_fit(source, 2.5 * source @ rotation.T + [1.0, -2.0, 3.0])
    np.testing.assert_allclose([scale, *shift], [2.5, 1.0, -2.0, 3.0], atol=1e-9)
    np.testing.assert_allclose(fitted, rotation, atol=1e-9)
    np.testing.assert_allclose(angles_of(rotation), (25.0, -10.0, 0.0), atol=1e-9)
    with pytest.raises(ValueError, match=r"points: expected two \(K ≥ 3, 3\) arrays"):
        similarity_fit(source[:2], source[:2])
    with pytest.raises(ValueError, match=r"points: expected finite landmarks of shape \(468, 3\)"):
        head_pose(np.zeros((10, 3)))


def test_the_shipped_correspondence_is_what_its_builder_makes(sim):
    vertex, distance = build_correspondence(canonical_landmarks(), sim.model.mean.astype(np.float64))
    with np.load(CORRESPONDENCE) as z:  # the same up to near-ties another BLAS might break otherwise
        assert np.mean(z["vertex"] == vertex) > 0.99
        np.testing.assert_allclose(np.median(z["distance"]), np.median(distance), rtol=1e-3)
    assert np.median(distance) < 1.5 and (distance < 3.0).sum() > 400  # the inner face registers to ~1 mm


def test_head_pose_against_the_canonical_model_recovers_its_own_rotations(sim):
    """Landmarks that are MediaPipe's canonical model itself, rotated by a known pose and seen orthographically
    (y down, depth negative towards the camera), give that pose against 'canonical'; against our mean face the same
    landmarks give it turned by the constant rotation between the two frames (its elevation part about −7°)."""
    canonical = canonical_landmarks()
    offsets = []
    for azimuth, elevation in [(0.0, 0.0), (25.0, -10.0), (-30.0, 15.0)]:
        view = canonical @ rotation_matrices(np.radians([azimuth]), np.radians([elevation]))[0].T
        points = 4.0 * view * np.array([1.0, -1.0, -1.0]) + [256.0, 256.0, 0.0]
        pose = head_pose(points, against="canonical")
        assert pose["azimuth"] == pytest.approx(azimuth, abs=1e-6) and pose["elevation"] == pytest.approx(
            elevation, abs=1e-6) and pose["rms_px"] < 1e-6, pose
        offsets.append(head_pose(points)["elevation"] - elevation)
    assert -10.0 < offsets[0] < -4.0 and np.ptp(offsets) < 3.0, offsets
    with pytest.raises(ValueError, match="against: expected one of"):
        head_pose(points, against="generic")
