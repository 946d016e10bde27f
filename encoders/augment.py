"""Domain randomisation of the encoder's input, so that a statistic trained on renders transfers to photos
(Tobin et al. 2017): each training render is composited over a real background and framed, lit, blurred,
noised and compressed a little differently, while the decoder still reconstructs the clean render (the denoising
form: the encoder learns to see the face through what a photo adds to it).

Per image, in this order: a background (with probability ``BACKGROUND_P``: a random crop of one of scikit-image's
sample images without people, :data:`BACKGROUNDS`, flipped at random and its brightness scaled; else the renders'
black); with ``head``, a head silhouette painted onto it behind the face (:func:`head_silhouette`: hair and neck,
which a photo has and our face mask lacks); the two composited by the render's coverage; a small similarity
transform (shift ``SHIFT_PX``, scale ``SCALE``, in-plane rotation ``ROLL_DEG``: the framing errors of a face
detector and the roll our scene has no variable for); gamma, contrast and brightness; a Gaussian blur (probability
``BLUR_P``, sd up to ``BLUR_PX``); Gaussian pixel noise (sd up to ``NOISE``); JPEG compression (probability
``JPEG_P``, quality in ``JPEG_QUALITY``). Every draw comes from the caller's NumPy generator, so a training run stays
reproducible and resumable.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

BACKGROUNDS = ("brick", "grass", "gravel", "coins", "moon", "page", "text", "rocket", "coffee", "chelsea",
               "hubble_deep_field", "immunohistochemistry", "retina", "horse", "clock", "cell", "colorwheel")
BACKGROUND_P = 0.8
SHIFT_PX, SCALE, ROLL_DEG = 2.0, (0.93, 1.07), 6.0  # at 64 pixels; shifts scale with the image
GAMMA, CONTRAST, BRIGHTNESS = (0.7, 1.4), (0.7, 1.2), 0.08
BLUR_P, BLUR_PX = 0.5, 1.0
NOISE = 0.03
JPEG_P, JPEG_QUALITY = 0.5, (35, 95)
HEAD_P = 0.8  # with head: share of images given a head silhouette
HAIR_SHADE, NECK_SHADE = (0.02, 0.6), (0.2, 0.8)  # grey levels of hair and neck


@lru_cache(maxsize=1)
def background_images() -> tuple[np.ndarray, ...]:
    """The :data:`BACKGROUNDS` of ``skimage.data`` as grey float32 images in [0, 1] (loaded once per process)."""
    from skimage import data
    from skimage.color import rgb2gray

    out = []
    for name in BACKGROUNDS:
        image = getattr(data, name)()
        if image.ndim == 3:
            image = rgb2gray(image[..., :3])
        image = image.astype(np.float32)
        out.append(image / max(float(image.max()), 1e-6))
    return tuple(out)


def random_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A (size, size) float32 background in [0, 1]: a random square crop (a fifth of the shorter side to all of it)
    of a random :data:`BACKGROUNDS` image, resized, flipped with probability 1/2, brightness scaled by U(0.3, 1.2)."""
    source = background_images()[rng.integers(len(BACKGROUNDS))]
    h, w = source.shape
    side = int(rng.uniform(0.2, 1.0) * min(h, w))
    y, x = rng.integers(h - side + 1), rng.integers(w - side + 1)
    crop = Image.fromarray(source[y:y + side, x:x + side], mode="F").resize((size, size), Image.Resampling.BILINEAR)
    patch = np.asarray(crop, dtype=np.float32)
    if rng.uniform() < 0.5:
        patch = patch[:, ::-1]
    return np.clip(patch * rng.uniform(0.3, 1.2), 0.0, 1.0)


def _similarity(image: np.ndarray, shift: np.ndarray, scale: float, roll: float) -> np.ndarray:
    """The image shifted by ``shift`` (2,) pixels, scaled by ``scale`` and turned by ``roll`` radians about its
    centre (bilinear; what comes in from outside is black)."""
    size = image.shape[0]
    c, s = np.cos(roll) / scale, np.sin(roll) / scale
    centre = (size - 1) / 2
    # PIL maps each output pixel (x, y) to the input pixel (a x + b y + c, d x + e y + f)
    coeffs = (c, s, centre - c * (centre + shift[0]) - s * (centre + shift[1]),
              -s, c, centre + s * (centre + shift[0]) - c * (centre + shift[1]))
    return np.asarray(Image.fromarray(image, mode="F").transform((size, size), Image.Transform.AFFINE, coeffs,
                                                                 Image.Resampling.BILINEAR), dtype=np.float32)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255.0


def _face_box(cover: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels a face covers at least half of, or None without any."""
    rows, cols = np.nonzero(cover > 0.5)
    if len(rows) == 0:
        return None
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1


def _add_neck(shade: np.ndarray, where: np.ndarray, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """Paint a neck into ``shade``/``where`` in place: a column under the face's ``box`` (0.4–0.7 box widths wide,
    from 0.7 box heights down to the image's edge) in one shade of :data:`NECK_SHADE`."""
    top, bottom, left, right = box
    y, x = np.mgrid[0:shade.shape[0], 0:shade.shape[1]]
    half = rng.uniform(0.2, 0.35) * (right - left)
    neck = (y >= top + 0.7 * (bottom - top)) & (np.abs(x - (left + right) / 2) <= half)
    shade[neck] = rng.uniform(*NECK_SHADE)
    where |= neck


def head_silhouette(cover: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A head around a rendered face mask: (shade (H, W) float32 in [0, 1], where (H, W) bool), drawn at random.

    cover : (H, W) float32 coverage of the face (:meth:`abc_inverse.render.simulator.Simulator.render_with_coverage`).
    Hair is an ellipse about the face's box (its width 1.1–1.5 box widths, its height 1.0–1.4 box heights, its centre
    0.05–0.25 box heights above the box's), in one shade of :data:`HAIR_SHADE` with a little grain; a neck
    (:func:`neck_silhouette`'s) is added with probability 1/2. Synthetic: shapes chosen by hand to put hair- and
    neck-like edges where photos have them, not a model of real heads. An image without face pixels gets nothing
    (``where`` all False)."""
    h, w = cover.shape
    shade, where = np.zeros((h, w), np.float32), np.zeros((h, w), bool)
    box = _face_box(cover)
    if box is None:
        return shade, where
    top, bottom, left, right = box
    bh, bw = bottom - top, right - left
    cy, cx = (top + bottom) / 2 - rng.uniform(0.05, 0.25) * bh, (left + right) / 2
    ry, rx = rng.uniform(0.5, 0.7) * bh, rng.uniform(0.55, 0.75) * bw
    y, x = np.mgrid[0:h, 0:w]
    hair = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    grain = rng.normal(0.0, 0.04, (h, w)).astype(np.float32)
    shade[hair] = np.clip(rng.uniform(*HAIR_SHADE) + grain[hair], 0, 1)
    where |= hair
    if rng.uniform() < 0.5:
        _add_neck(shade, where, box, rng)
    return shade, where


def neck_silhouette(cover: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A neck under a rendered face mask and nothing else: (shade (H, W) float32 in [0, 1], where (H, W) bool).

    cover : (H, W) float32 coverage of the face. The neck is a column under the face's box (0.4–0.7 box widths wide,
    from 0.7 box heights down to the image's edge) in one shade of :data:`NECK_SHADE`, the same as
    :func:`head_silhouette`'s. Synthetic, drawn by hand; an image without face pixels gets nothing."""
    shade, where = np.zeros(cover.shape, np.float32), np.zeros(cover.shape, bool)
    box = _face_box(cover)
    if box is not None:
        _add_neck(shade, where, box, rng)
    return shade, where


def _recipe(rng: np.random.Generator, size: int, framing: float) -> dict:
    """One draw of every setting of the module docstring's steps for a (size, size) image; the framing jitter
    (shift, scale, roll) is ``framing`` times the module's."""
    return {"background": random_background(rng, size) if rng.uniform() < BACKGROUND_P else None,
            "shift": framing * rng.uniform(-SHIFT_PX, SHIFT_PX, size=2) * size / 64,
            "scale": 1 + framing * (rng.uniform(*SCALE) - 1),
            "roll": framing * np.radians(rng.uniform(-ROLL_DEG, ROLL_DEG)), "gamma": rng.uniform(*GAMMA),
            "contrast": rng.uniform(*CONTRAST), "brightness": rng.uniform(-BRIGHTNESS, BRIGHTNESS),
            "blur": rng.uniform(0.3, BLUR_PX) if rng.uniform() < BLUR_P else 0.0, "noise": rng.uniform(0, NOISE),
            "jpeg": int(rng.integers(*JPEG_QUALITY)) if rng.uniform() < JPEG_P else None}


def augment(images: np.ndarray, coverage: np.ndarray, rng: np.random.Generator, shared: bool = False,
            framing: float = 1.0, head: bool = False) -> np.ndarray:
    """Domain-randomised copies of renders (see the module docstring).

    images : (N, H, W) float32 grey renders in [0, 1] on a black background (H = W); coverage : (N, H, W) float32
    in [0, 1], the share of each pixel the face covers (:meth:`abc_inverse.render.simulator.Simulator.
    render_with_coverage`). shared : one draw of the settings (background, framing, lighting, blur, noise level,
    JPEG quality) for the whole batch, so that within it only what the renders vary varies (for the specific
    transformations of Kulkarni et al. 2015 §3.2); else a draw per image. framing : scale of the shift, scale and
    roll jitter (1 = the module's ranges, 0 = none; a float ≥ 0). head : paint a head silhouette behind the face
    (:func:`head_silhouette`) with probability :data:`HEAD_P`, drawn per image (no draws are made without it, so
    the other settings' random stream is unchanged). Returns (N, H, W) float32 in [0, 1].
    Raises ValueError for mismatched shapes or a negative ``framing``."""
    images, coverage = np.asarray(images, np.float32), np.asarray(coverage, np.float32)
    if images.shape != coverage.shape or images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"images, coverage: expected two (N, H, H) arrays, got {images.shape} and {coverage.shape}")
    if not framing >= 0:
        raise ValueError(f"framing: expected a number ≥ 0, got {framing!r}")
    out = np.empty_like(images)
    size = images.shape[1]
    batch_recipe = _recipe(rng, size, framing) if shared else None
    for i, (image, cover) in enumerate(zip(images, coverage, strict=True)):
        r = batch_recipe or _recipe(rng, size, framing)
        behind = r["background"]
        if head and rng.uniform() < HEAD_P:
            shade, where = head_silhouette(cover, rng)
            behind = np.where(where, shade, 0.0 if behind is None else behind).astype(np.float32)
        if behind is not None:
            image = image + (1.0 - cover) * behind
        image = np.clip(_similarity(image, r["shift"], r["scale"], r["roll"]), 0.0, 1.0) ** r["gamma"]
        image = (image - 0.5) * r["contrast"] + 0.5 + r["brightness"]
        if r["blur"]:
            image = gaussian_filter(image, r["blur"])
        image = image + r["noise"] * rng.standard_normal(image.shape).astype(np.float32)
        if r["jpeg"] is not None:
            image = _jpeg(image, r["jpeg"])
        out[i] = np.clip(image, 0.0, 1.0)
    return out
