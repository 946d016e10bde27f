"""The landmark summary: dlib's points on a photo, our vertices' projection, and the fit that joins them."""

import json

import numpy as np
import pytest
from skimage import data

from abc_inverse.face_landmarks import (
    detect_landmarks,
    head_roll,
    landmark_frame,
    level,
    overlap,
    to_frame,
    weak_perspective_rotation,
)
from abc_inverse.fit import FitConfig, check_landmarks, fit, landmark_term
from abc_inverse.io import detect_face, to_grey
from abc_inverse.model.landmarks import angles_of, dlib_landmark_vertices
from abc_inverse.photos import observe, reference_landmarks
from abc_inverse.render.simulator import RenderSettings, Simulator, rotation_matrices
from tests.test_fit import MeanStatistic


@pytest.fixture(scope="module")
def sim(model):
    return Simulator(model, RenderSettings(image_size=32))


@pytest.fixture(scope="module")
def astronaut():
    image = data.astronaut().astype(np.float32) / 255.0
    return image, detect_face(to_grey(image))


def all_68(points: np.ndarray) -> np.ndarray:
    """dlib's 68 points with the used ones (of dlib_landmark_vertices) set to ``points`` (K, 2), the rest 0."""
    ids, _ = dlib_landmark_vertices()
    full = np.zeros((68, 2))
    full[ids] = points
    return full


def test_projected_points_lie_where_the_renderer_draws_their_vertices(model):
    """At moderate poses the renderer's depth at each projected point's pixel is the point's own depth: the
    projection is the renderer's (pixel centres at i + 0.5, y down)."""
    sim = Simulator(model, RenderSettings(image_size=128))
    _, vertices = dlib_landmark_vertices()
    for azimuth, elevation, seed in ((0, 0, None), (25, -10, 1), (-20, 15, 2)):
        scene = sim.prior.at_angles(azimuth, elevation, 0.0, seed)
        points = sim.project(scene, vertices)[0]
        depth = sim.render_with_depth(scene)[1][0]
        view, _, _ = sim.camera_space(scene)
        expected = -view[0][vertices].mean(axis=1)[:, 2]
        col, row = np.floor(points).astype(int).T
        # within 2 mm for most points: a pixel of 128 is ~1 mm on the face, and a few lie on steep slopes (nostrils)
        assert np.mean(np.abs(depth[row, col] - expected) < 2.0) > 0.9, (azimuth, elevation)


def test_the_mean_face_seen_from_the_front_projects_mirror_symmetric(sim):
    ids, vertices = dlib_landmark_vertices()
    assert len(ids) == 46 and set(ids) <= set(range(17, 68))
    points = sim.project(sim.prior.at_angles(0.0, 0.0, 0.0, None), vertices)[0]
    at = {k: p for k, p in zip(ids, points, strict=True)}
    limit = 2 * 3.0 * sim.settings.focal_px / 500.0  # each of a pair lies within 3 mm of its MediaPipe point
    for left, right in ((36, 45), (39, 42), (48, 54), (17, 26)):  # eye corners, mouth corners, brow ends
        assert abs(at[left][0] + at[right][0] - 32.0) < limit and abs(at[left][1] - at[right][1]) < limit
    assert at[36][1] < at[30][1] < at[51][1]  # eyes above the nose tip above the lip (y down)


def test_dlib_finds_the_astronauts_landmarks_in_her_face_box(astronaut):
    image, box = astronaut
    points = detect_landmarks(image, box)
    x, y, w, h = box
    assert points.shape == (68, 2)
    assert np.all((points[17:, 0] > x) & (points[17:, 0] < x + w) & (points[17:, 1] > y) & (points[17:, 1] < y + h))
    eye_left, eye_right, mouth = points[36:42].mean(0), points[42:48].mean(0), points[48:60].mean(0)
    assert eye_left[0] < eye_right[0] and max(eye_left[1], eye_right[1]) < mouth[1]
    assert detect_landmarks(image, (0, 400, 90, 90)) is None  # a box on no face: no landmarks of another face


def test_overlap_to_frame_and_landmark_frame_known_answers():
    assert overlap((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert overlap((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    # a frame of side 100 at (10, 20) resized to 64: its centre (60, 70) is the observation's centre
    np.testing.assert_allclose(to_frame(np.array([[60.0, 70.0], [10.0, 20.0]]), (10, 20, 100, 100), 64),
                               [[32.0, 32.0], [0.0, 0.0]])
    reference = np.array([[20.0, 20.0], [44.0, 20.0], [32.0, 40.0]])  # a face twice as large in the photo, moved
    assert landmark_frame(2 * reference + [10.0, 20.0], reference, 64) == (10, 20, 128, 128)


def test_observe_aligns_the_photo_like_the_renders(astronaut, model):
    """With landmarks, the photo is turned by the head's roll and framed so that its points' centroid and spread
    are the reference's; without (sd 0), it is framed by the Haar box alone."""
    image, box = astronaut
    sim = Simulator(model, RenderSettings(image_size=64))
    reference = reference_landmarks(sim)
    observed, framing, points = observe(image, "auto", 64, 1.5, reference)
    ids, _ = dlib_landmark_vertices()
    used = points[ids]
    spread = lambda p: np.sqrt(np.mean(np.sum((p - p.mean(0)) ** 2, axis=1)))  # noqa: E731
    np.testing.assert_allclose(used.mean(0), reference.mean(0), atol=0.5)  # frames are whole pixels
    assert spread(used) == pytest.approx(spread(reference), rel=0.02)
    assert observed.shape == (64, 64) and framing["box_frame"] != framing["frame"] and "roll_deg" in framing
    assert abs(head_roll(np.asarray(points, float))) < 1.0  # upright after the turn
    plain, framed, none = observe(image, "auto", 64, 0.0, reference)
    assert none is None and "roll_deg" not in framed and framed["frame"] == framing["box_frame"]
    x, y, w, _ = box
    given, kept, points = observe(image, (x, y, w, w), 64, 1.5, reference)  # a frame the user gave stays
    assert kept["frame"] == [x, y, w, w] and "roll_deg" not in kept
    np.testing.assert_allclose(points, to_frame(detect_landmarks(image, box), (x, y, w, w), 64))


def test_level_turns_points_with_the_image():
    grey = np.zeros((100, 120), np.float32)
    grey[30, 80] = 1.0  # its centre is at (80.5, 30.5)
    for roll in (20.0, -35.0):
        turned, point = level(grey, np.array([[80.5, 30.5]]), roll, (60.0, 50.0))
        rows, cols = np.nonzero(turned)
        weights = turned[rows, cols]
        centroid = [np.sum((cols + 0.5) * weights) / weights.sum(), np.sum((rows + 0.5) * weights) / weights.sum()]
        np.testing.assert_allclose(point[0], centroid, atol=0.1)
        assert (point[0][1] < 30.5) == (roll > 0)  # counter-clockwise: a point right of the centre rises


def test_weak_perspective_rotation_and_head_roll_recover_a_known_pose(rng, model):
    """Points made by a scaled orthographic view of a rotated head (azimuth 25°, elevation −12°, a 5° roll) and
    shifted give back its angles; dlib's points of our mean face so turned give back the roll."""
    vertices = rng.normal(0.0, 40.0, (46, 3))
    roll = np.radians(5.0)
    in_image = np.array([[np.cos(roll), -np.sin(roll), 0.0], [np.sin(roll), np.cos(roll), 0.0], [0.0, 0.0, 1.0]])
    rotation = in_image @ rotation_matrices(np.radians([25.0]), np.radians([-12.0]))[0]
    points = 0.3 * (vertices @ rotation.T)[:, :2] + [100.0, -50.0]
    np.testing.assert_allclose(angles_of(weak_perspective_rotation(vertices, points)), [25.0, -12.0, 5.0], atol=1e-4)
    ids, pairs = dlib_landmark_vertices()
    mesh = model.mean.astype(np.float64)[pairs].mean(axis=1)
    photo = np.zeros((68, 2))
    photo[ids] = (0.3 * (mesh @ rotation.T)[:, :2] + [100.0, -50.0]) * [1.0, -1.0]  # image y down
    assert head_roll(photo) == pytest.approx(5.0, abs=1e-3)


def test_landmark_kernel_is_the_product_of_independent_gaussians(sim):
    """τ = σ / √K, so −rms² / (2τ²) = −Σ_k |Δ_k|² / (2σ²); it is 0 at the scene that made the points, and its
    gradient is the central difference's."""
    u_true = np.zeros((1, sim.prior.dim))
    u_true[0, sim.prior.blocks["pose"]] = [0.4, -0.3]
    _, vertices = dlib_landmark_vertices()
    observed = sim.project(sim.prior.from_normal(u_true), vertices)[0]
    term = landmark_term(all_68(observed), FitConfig(epsilon=0.01, landmark_sd=1.5))
    assert term.tolerance == pytest.approx(1.5 / np.sqrt(46)) and term.weight == pytest.approx(0.01 / term.tolerance)
    assert term.rms(sim, u_true)[0] == pytest.approx(0.0, abs=1e-9)
    u = u_true + np.random.default_rng(0).normal(0, 0.3, u_true.shape)
    value, grad = term.log_kernel_grad(sim, u)
    delta = sim.project(sim.prior.from_normal(u), vertices)[0] - observed
    assert value[0] == pytest.approx(-np.sum(delta**2) / (2 * 1.5**2))
    blocks, h = sim.prior.blocks, 1e-5
    for j in (blocks["shape"].start, blocks["pose"].start, blocks["pose"].start + 1, blocks["camera"].start + 2,
              blocks["albedo"].start):  # the albedo moves no point: 0
        e = h * np.eye(sim.prior.dim)[j]
        numeric = (term.log_kernel_grad(sim, u + e)[0][0] - term.log_kernel_grad(sim, u - e)[0][0]) / (2 * h)
        assert grad[0, j] == pytest.approx(numeric, rel=1e-3, abs=1e-4), j


@pytest.mark.parametrize("landmarks, config, match", [
    (np.zeros((5, 2)), FitConfig(), r"68 finite points \(68, 2\), got shape \(5, 2\)"),
    (np.full((68, 2), np.nan), FitConfig(), "68 finite points"),
    (np.zeros((68, 2)), FitConfig(image_noise=0.0), "landmark_sd: the landmark summary is weighed against a fixed ε")])
def test_bad_landmarks_raise(landmarks, config, match):
    with pytest.raises(ValueError, match=match):
        check_landmarks(landmarks, config)


def test_without_landmarks_or_with_sd_0_there_is_no_term():
    assert check_landmarks(None, FitConfig()) is None
    assert check_landmarks(np.zeros((68, 2)), FitConfig(landmark_sd=0.0)) is None
    assert landmark_term(None, FitConfig(epsilon=0.01)) is None


def test_landmarks_pin_the_pose_that_a_weak_statistic_leaves_open(sim):
    """A render at azimuth 20°, elevation −10°, fitted with a statistic of three image moments: with its
    landmarks the posterior holds the true angles within 3 sd and is less than half as wide as without (σ 0.75 px
    at 32 px: the default 1.5 px at 64)."""
    truth = sim.prior.at_angles(20.0, -10.0, 0.0, None)
    observed = sim(truth)[0]
    _, vertices = dlib_landmark_vertices()
    points = all_68(sim.project(truth, vertices)[0])
    config = FitConfig(chains=8, draws=300, tune=100, pilot=64, distance="l2", de_weight=0.5, landmark_sd=0.75)
    with_points = fit(observed, MeanStatistic(), config, sim, progress=False, landmarks=points)
    without = fit(observed, MeanStatistic(), config, sim, progress=False)
    record = json.loads(with_points.posterior.attrs["landmarks"])
    assert len(record["observed_px"]) == 46 and record["sd_px"] == pytest.approx(0.75)
    assert with_points.posterior.attrs["regression_adjustment"].startswith("off: with the landmark summary")
    assert json.loads(without.posterior.attrs["landmarks"]) == {}
    for name, value in (("azimuth", 20.0), ("elevation", -10.0)):
        draws = with_points.posterior[name].values
        assert abs(draws.mean() - value) < 3 * draws.std(), (name, draws.mean(), draws.std())
        assert draws.std() < without.posterior[name].values.std() / 2, name


def test_without_a_trained_emulator_the_hamiltonian_moves_run_on_a_fitted_linear_one(sim, monkeypatch):
    """The render of test_landmarks_pin_the_pose… composited over itself (--background image: the shipped q's
    emulator does not apply) with the cosine distance: the Hamiltonian moves are steered by the local linear
    emulator, beside independence moves from a mixture fitted to the emulated posterior; most proposals are
    accepted, and the posterior holds the true angles within 3 sd. When the first draws fail the diagnostics
    (forced here) the mixture is refitted before the chains go on. (The mixture's emulated chains cut to a quarter
    to keep the test short.)"""
    import abc_inverse.fit

    monkeypatch.setattr(abc_inverse.fit, "MIXTURE_CHAINS", 16)
    monkeypatch.setattr(abc_inverse.fit, "MIXTURE_STEPS", 100)
    checked = []

    def fails_once(prior, position):
        checked.append(position.shape[1])
        return ["forced"] if len(checked) == 1 else []

    monkeypatch.setattr(abc_inverse.fit, "scene_warnings", fails_once)
    truth = sim.prior.at_angles(20.0, -10.0, 0.0, None)
    observed = sim(truth)[0]
    points = all_68(sim.project(truth, dlib_landmark_vertices()[1])[0])
    config = FitConfig(draws=300, tune=50, pilot=64, landmark_sd=0.75, background="image")
    idata = fit(observed, MeanStatistic(), config, sim, progress=False, landmarks=points)
    assert "a linear emulator fitted to" in idata.posterior.attrs["surrogate"], idata.posterior.attrs["surrogate"]
    mixture = json.loads(idata.posterior.attrs["mixture"])  # the independence moves' mixture of the emulated posterior
    assert 1 <= mixture["components"] <= 3 and 1 <= mixture["chains_kept"] <= mixture["chains"]
    search = json.loads(idata.posterior.attrs["search_pixel_mse"])  # Fig. 6a's search: pilot, emulator's ensemble
    assert len(search["ensemble"]) == abc_inverse.fit.EMULATOR_STEPS and search["pilot_from"] == "prior"
    assert "10% of steps independence moves from a" in idata.posterior.attrs["surrogate"]
    assert checked == [300, 600] and idata.posterior["azimuth"].shape == (8, 600)
    refits = json.loads(idata.posterior.attrs["mixture_refits"])
    assert len(refits) == 1 and 1 <= refits[0]["light"]["components"] <= 3  # the light's own mixture refitted too
    assert idata.posterior.attrs["surrogate"].endswith(
        "8 chains × 600 draws (1 more round of 300, run while the diagnostics failed, the mixture refitted to the "
        "draws before each and proposing in 30% of steps, the light jumping alone in 20% of the others, elliptical "
        "moves in 20% of the rest)"
    ), idata.posterior.attrs["surrogate"]
    assert idata.sample_stats["is_accepted"].values.mean() > 0.3
    for name, value in (("azimuth", 20.0), ("elevation", -10.0)):
        draws = idata.posterior[name].values
        assert abs(draws.mean() - value) < 3 * draws.std(), (name, draws.mean(), draws.std())
