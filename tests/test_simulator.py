import numpy as np
import pytest
from scipy.ndimage import maximum_filter, minimum_filter

from abc_inverse.model.build_model import vertex_normals
from abc_inverse.render.raster import shade_batch
from abc_inverse.render.simulator import RenderSettings, Simulator
from tests.conftest import make_scene
from tests.reference import rasterize_ref, shade_ref


@pytest.fixture(scope="module")
def sim():
    return Simulator()


def test_output_shape_dtype_range(sim, rng):
    scene = sim.prior.sample(rng, 3)
    img = sim(scene)
    assert img.shape == (3, 64, 64) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1 and img.max() > 0.3
    rgb = Simulator(sim.model, RenderSettings(color=True, image_size=32))(scene)
    assert rgb.shape == (3, 32, 32, 3) and rgb.dtype == np.float32 and rgb.min() >= 0 and rgb.max() <= 1
    big = Simulator(sim.model, RenderSettings(image_size=150))(scene)
    assert big.shape == (3, 150, 150)


def test_deterministic(sim, rng):
    scene = sim.prior.sample(rng, 4)
    np.testing.assert_array_equal(sim(scene), sim(scene))


def test_batch_equals_single(sim, rng):
    scene = sim.prior.sample(rng, 3)
    batch = sim(scene)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], sim(scene.take([i]))[0])


@pytest.mark.parametrize("lighting", ["directional", "rich"])
def test_numba_pipeline_matches_numpy_reference(sim, rng, lighting):
    s = Simulator(sim.model, RenderSettings(image_size=32, lighting=lighting))
    # one identity for both lightings (albedo clipped per RGB channel in camera_space, of the grey mean in the
    # pipeline: where an albedo draw clips, the two differ by a few thousandths)
    scene = sim.prior.sample(rng, 2)._replace(elevation=np.array([0.2, -0.3]), lighting=s.prior.sample(rng, 2).lighting)
    image, depth = s.render_with_depth(scene)
    verts, albedo, light = s.camera_space(scene)
    tris = s.model.triangles
    ambient, diffuse, sh, colour = (np.full(2, 0.3), np.full(2, 0.7), np.zeros((2, 8)), np.ones((2, 1)))
    if lighting == "rich":  # columns: light elevation, ambient, diffuse, sh (8)
        ambient, diffuse, sh = scene.lighting[:, 1], scene.lighting[:, 2], scene.lighting[:, 3:11]
        elevation = scene.lighting[:, 0]
        np.testing.assert_allclose(light, np.stack([np.sin(scene.light_azimuth) * np.cos(elevation), np.sin(elevation),
                                                    np.cos(scene.light_azimuth) * np.cos(elevation)], 1), atol=1e-6)
    f32 = lambda a: np.ascontiguousarray(a, np.float32)  # noqa: E731
    colors = shade_batch(verts, albedo, light, tris, f32(ambient), f32(diffuse), f32(sh), f32(colour))
    for i in range(2):
        normals = vertex_normals(verts[i].astype(np.float64), tris)
        ref_colors = shade_ref(normals, albedo[i], light[i], ambient[i], diffuse[i], sh[i], colour[i])
        np.testing.assert_allclose(colors[i], ref_colors, atol=1e-4)
        ref_img, ref_depth = rasterize_ref(verts[i].astype(np.float64), ref_colors, tris, s.settings.focal_px, 32, 32)
        mask, ref_mask = depth[i] > 0, ref_depth > 0
        assert (mask != ref_mask).sum() <= 2  # pixel centres exactly on an edge may round either way
        both = mask & ref_mask
        np.testing.assert_allclose(depth[i][both], ref_depth[both], rtol=1e-4)
        close = np.abs(image[i][both] - ref_img[both, 0])
        assert np.quantile(close, 0.99) < 1e-3


def test_known_pose_silhouettes(sim):
    img, depth = sim.render_with_depth(make_scene(3, azimuth=[0.0, 0.7, -0.7]))
    mask = depth > 0
    # frontal mean face: silhouette nearly mirror-symmetric; the nose tip (nearest pixel) is near the centre
    assert (mask[0] & mask[0][:, ::-1]).sum() / (mask[0] | mask[0][:, ::-1]).sum() > 0.95
    nearest = [np.unravel_index(np.argmin(np.where(m, d, np.inf)), d.shape) for m, d in zip(mask, depth, strict=True)]
    assert abs(nearest[0][1] - 32) <= 2
    # positive azimuth turns the face towards the viewer's right: the nose tip moves right, and mirror poses mirror
    assert nearest[1][1] > 32 + 5 and nearest[2][1] < 32 - 5
    mirrored = mask[2][:, ::-1]
    assert (mask[1] & mirrored).sum() / (mask[1] | mirrored).sum() > 0.95
    # the silhouette's extent is the projection of the mesh's extreme vertices
    verts, _, _ = sim.camera_space(make_scene(1))
    f = sim.settings.focal_px
    x = 32 + f * verts[0, :, 0] / -verts[0, :, 2]
    cols = np.where(mask[0].any(0))[0]
    assert abs(cols[0] - x.min()) <= 1 and abs(cols[-1] + 1 - x.max()) <= 1


def test_light_direction(sim):
    img = sim(make_scene(2, light_azimuth=[1.2, -1.2]))
    left, right = img[:, :, :32].sum((1, 2)), img[:, :, 32:].sum((1, 2))
    assert right[0] > 1.5 * left[0] and left[1] > 1.5 * right[1]  # positive light azimuth lights the right


@pytest.mark.parametrize("size", [64, 150])
def test_agrees_with_pyrender(sim, size):
    """Silhouettes and depth must agree exactly up to edge rounding (IoU ≥ 0.99). Shading: both engines
    interpolate the same per-vertex Lambertian colours perspective-correctly, so away from depth
    discontinuities they differ only by pyrender's 8-bit output (≤ 0.5/255 ≈ 0.002) and by its 4× MSAA, which
    shades the sub-pixel triangles of a pixel at the pixel centre by extrapolation: measured mean 0.0015 and
    99th percentile ≤ 0.015 over random scenes; bounds: mean ≤ 0.004, 99th percentile ≤ 0.025."""
    rng = np.random.default_rng(7)
    n = 4
    scene = make_scene(n, rng.uniform(-1.0, 1.0, n), rng.uniform(-0.5, 0.5, n), rng.uniform(-1.4, 1.4, n), rng=rng)
    ours = Simulator(sim.model, RenderSettings(image_size=size))
    ref = Simulator(sim.model, RenderSettings(image_size=size, backend="pyrender"))
    a, da = ours.render_with_depth(scene)
    b, db = ref.render_with_depth(scene)
    assert b.shape == a.shape and b.dtype == np.float32
    for i in range(n):
        ma, mb = da[i] > 0, db[i] > 0
        assert (ma & mb).sum() / (ma | mb).sum() >= 0.99
        smooth = ma & mb & (maximum_filter(da[i], 3) - minimum_filter(da[i], 3) < 5) & (minimum_filter(db[i], 3) > 0)
        np.testing.assert_allclose(da[i][smooth], db[i][smooth], atol=0.05)  # mm
        diff = np.abs(a[i] - b[i])[smooth]
        assert diff.mean() <= 0.004 and np.quantile(diff, 0.99) <= 0.025


@pytest.mark.parametrize("kwargs, match", [({"image_size": 8}, "image_size"), ({"backend": "blender"}, "backend"),
                                           ({"fov_deg": 0.0}, "fov_deg"), ({"ambient": -1.0}, "ambient")])
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RenderSettings(**kwargs)


def test_bad_scene_raises(sim):
    bad = make_scene(1)._replace(azimuth=np.array([np.nan]))
    with pytest.raises(ValueError, match="scene.azimuth: expected finite"):
        sim(bad)


def test_render_over_composites_the_face_over_the_background(sim, rng):
    scene = sim.prior.sample(rng, 2)
    background = rng.random((64, 64)).astype(np.float32)
    plain, depth = sim.render_with_depth(scene)
    over = sim.render_over(scene, background)
    face = depth > 0
    assert 0.1 < face.mean() < 0.9
    np.testing.assert_array_equal(over[~face], np.broadcast_to(background, over.shape)[~face])  # the image outside
    np.testing.assert_array_equal(over[face], plain[face])  # the render inside the face mask
    rgb = Simulator(sim.model, RenderSettings(color=True, image_size=32))
    assert rgb.render_over(scene, np.ones((32, 32, 3), np.float32)).shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match=r"background: expected an image of shape \(64, 64\), got \(32, 32\)"):
        sim.render_over(scene, background[:32, :32])
    with pytest.raises(ValueError, match="background: expected finite intensities"):
        sim.render_over(scene, background + 1)


def test_supersampling_is_the_mean_of_the_finer_render(sim, rng):
    scene = sim.prior.sample(rng, 2)
    coarse = Simulator(sim.model, RenderSettings(image_size=32, supersample=2))
    fine = Simulator(sim.model, RenderSettings(image_size=64))
    image, coverage = coarse.render_with_coverage(scene)
    fine_image, fine_depth = fine.render_with_depth(scene)
    np.testing.assert_allclose(image, fine_image.reshape(2, 32, 2, 32, 2).mean(axis=(2, 4)), atol=1e-6)
    np.testing.assert_allclose(coverage, (fine_depth > 0).reshape(2, 32, 2, 32, 2).mean(axis=(2, 4)))
    edge = (coverage > 0) & (coverage < 1)
    assert edge.sum() > 20  # the outline is blended, not jagged
    over = coarse.render_over(scene, np.ones((32, 32), np.float32))
    np.testing.assert_allclose(over[edge], image[edge] + 1 - coverage[edge], atol=1e-6)
    with pytest.raises(ValueError, match="supersample: expected an integer in 1..4"):
        RenderSettings(supersample=5)


def test_facial_features_darken_eyes_brows_and_lips(sim):
    from abc_inverse.model.features import REFLECTANCE, feature_albedo
    from abc_inverse.model.landmarks import CORRESPONDENCE

    albedo = feature_albedo(sim.model.mean, sim.model.albedo_mean)
    with np.load(CORRESPONDENCE) as z:
        vertex = z["vertex"]
    skin, xy = sim.model.albedo_mean[0], sim.model.mean[:, :2]

    def between(a: int, b: int) -> int:  # the mesh vertex nearest the midpoint of two landmarks (frontal view)
        return int(np.argmin(np.linalg.norm(xy - (xy[vertex[a]] + xy[vertex[b]]) / 2, axis=1)))

    np.testing.assert_allclose(albedo[between(17, 14)], REFLECTANCE["lips"], atol=1e-6)  # the lower lip's middle
    np.testing.assert_allclose(albedo[between(105, 52)], REFLECTANCE["brow"], atol=1e-6)  # the right brow
    assert albedo[between(159, 145)].max() <= REFLECTANCE["iris"][0] + 1e-6  # the right eye's centre: iris or pupil
    np.testing.assert_allclose(albedo[vertex[50]], skin)  # the right cheek stays skin
    changed = np.any(albedo != sim.model.albedo_mean, axis=1)
    assert 0.02 < changed.mean() < 0.15
    painted = Simulator(sim.model, RenderSettings(features=True))
    frontal = sim.prior.at_angles(0.0, 0.0, 0.0, None)
    assert painted(frontal).mean() < sim(frontal).mean() - 0.005  # darker features, same face
    old = {k: v for k, v in painted.get_config().items() if k not in ("supersample", "features")}
    from abc_inverse.render.simulator import simulator_from_config

    assert simulator_from_config(old).settings == RenderSettings()  # configs from before these settings


def test_rich_lighting_at_its_neutral_values_renders_as_the_default(sim):
    rich = Simulator(sim.model, RenderSettings(image_size=32, lighting="rich"))
    default = Simulator(sim.model, RenderSettings(image_size=32))
    scene = default.prior.at_angles(20, -10, 40, seed=3)
    np.testing.assert_allclose(rich(rich.prior.at_angles(20, -10, 40, seed=3)), default(scene), atol=1e-6)


def test_rich_lighting_variables_shade_as_documented(sim):
    s = Simulator(sim.model, RenderSettings(image_size=32, lighting="rich", color=True))
    base = s.prior.at_angles(0, 0, 0)

    def render(**values):  # lighting columns: elevation, ambient, diffuse, sh (8), colour (3)
        lighting = base.lighting.copy()
        for name, col in (("elevation", 0), ("ambient", 1), ("diffuse", 2), ("sh_y", 3)):
            lighting[0, col] = values.get(name, lighting[0, col])
        lighting[0, 11:] = values.get("colour", 1.0)
        image, coverage = s.render_with_coverage(base._replace(lighting=lighting))
        return image[0], coverage[0] > 0

    low, face = render(ambient=0.1, diffuse=0.3)
    middle, high = render(ambient=0.2, diffuse=0.3)[0], render(ambient=0.3, diffuse=0.3)[0]
    assert high.max() < 1  # no clipping: the shading is then linear in ambient
    np.testing.assert_allclose((high - middle)[face], (middle - low)[face], atol=2e-6)
    assert np.all((middle - low)[face] > 0)
    ambient_more = middle
    tinted, _ = render(ambient=0.2, diffuse=0.3, colour=[1.2, 1.0, 0.8])
    np.testing.assert_allclose(tinted[face], ambient_more[face] * [1.2, 1.0, 0.8], rtol=1e-5, atol=1e-6)
    rows = np.arange(32)[:, None] * np.ones((1, 32))
    upper, lower = face & (rows < 12), face & (rows > 20)

    def top_minus_bottom(image):
        grey = image.mean(-1)
        return grey[upper].mean() - grey[lower].mean()

    front = top_minus_bottom(render()[0])
    assert top_minus_bottom(render(elevation=np.radians(50))[0]) > front + 0.05  # lit from above
    assert top_minus_bottom(render(elevation=-np.radians(50))[0]) < front - 0.05  # from below
    assert top_minus_bottom(render(sh_y=0.3)[0]) > front + 0.02  # Y_1,-1 ∝ y: brighter where normals point up
