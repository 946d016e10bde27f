"""Images and files in and out: reading photos, grey conversion, face framing, atomic writes."""

from __future__ import annotations

import contextlib
import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

GREY_WEIGHTS = np.array([0.21, 0.72, 0.07], dtype=np.float32)  # R, G, B -> grey, as the original DC-IGN code
# A Haar-cascade face box covers less than the model's renders frame. These constants map one onto the other:
# on the model's own near-frontal renders at the default camera the detector box is 0.76 of the image side and
# the image centre lies 0.085 box heights below the box centre (`python experiments/calibrate_face_crop.py`).
FACE_BOX_TO_FRAME = 1 / 0.76
FACE_BOX_SHIFT = 0.085


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on error remove it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path | str, text: str) -> None:
    """Write a text file atomically (a temporary file beside it, then renamed)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def sha256_of(path: Path | str) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_csv(path: Path, header: list[str], rows) -> None:
    """A CSV (floats to 6 significant digits) written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([f"{v:.6g}" if isinstance(v, float) else v for v in row] for row in rows)


def report_table(header: list[str], rows, out: Path | None = None) -> None:
    """Print a table to stdout, one ``" | "``-joined line per row under the header, and with ``out`` also write it
    as a CSV (:func:`write_csv`)."""
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(map(str, row)))
    if out is not None:
        write_csv(out, header, rows)


def read_image(path: Path | str) -> np.ndarray:
    """Read a PNG/JPEG (or any format Pillow reads) as float32 intensities in [0, 1].

    Returns (H, W) for grey images, (H, W, 3) for colour. An image with transparency is composited over white
    (as a viewer shows it), so transparent pixels do not read as black. Raises FileNotFoundError when missing,
    ValueError when the file is not a readable image or every pixel is fully transparent (nothing to fit).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image: no such file {str(path)!r}")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I"):
                arr = np.asarray(im, dtype=np.float64)
                return (arr / max(arr.max(), 1.0)).astype(np.float32) if im.mode == "I" else \
                    (arr / 65535.0).astype(np.float32)
            grey = im.mode in ("L", "LA", "1", "P", "PA") and _is_grey(im)
            alpha = _alpha(im)
            pixels = np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"image: cannot read {str(path)!r} as an image ({exc})") from None
    if alpha is None:
        return pixels
    if not alpha.any():
        raise ValueError(f"image: every pixel of {str(path)!r} is fully transparent; there is nothing to fit")
    if not grey:
        alpha = alpha[..., None]
    return pixels * alpha + (1.0 - alpha)  # over a white background


def _alpha(im: Image.Image) -> np.ndarray | None:
    """Opacity (H, W) float32 in [0, 1] of an image with transparency (an alpha channel or a transparent palette
    entry), else None."""
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        return np.asarray(im.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
    return None


def _is_grey(im: Image.Image) -> bool:
    if im.mode not in ("P", "PA"):
        return True
    rgb = np.asarray(im.convert("RGB"))
    return bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) in [0, 1] -> (H, W) float32 grey = 0.21 R + 0.72 G + 0.07 B.

    Raises ValueError on other shapes or non-finite / out-of-range values.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[2] == 3:
        image = image @ GREY_WEIGHTS
    elif image.ndim != 2:
        raise ValueError(f"image: expected (H, W) grey or (H, W, 3) RGB, got shape {image.shape}")
    if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
        raise ValueError("image: expected finite intensities in [0, 1]")
    return image


def parse_crop(text: str) -> tuple[int, int, int, int] | None | str:
    """Parse ``--crop``: 'auto' (detect), 'none' (take the image as framed), or 'x,y,w,h' in pixels.

    Returns 'auto', None or a tuple. Raises ValueError for anything else.
    """
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        x, y, w, h = (int(t) for t in text.split(","))
    except ValueError:
        raise ValueError(f"--crop: expected 'auto', 'none' or 'x,y,w,h' in pixels, got {text!r}") from None
    if w < 1 or h < 1 or x < 0 or y < 0:
        raise ValueError(f"--crop: expected x, y ≥ 0 and w, h ≥ 1, got {text!r}")
    return x, y, w, h


DETECT_MIN_SIDE = 256  # smaller images are enlarged to about this side before face detection


def detect_face(grey: np.ndarray) -> tuple[int, int, int, int] | None:
    """Largest face found by OpenCV's frontal-face Haar cascade: (x, y, w, h) in pixels of ``grey``, or None.

    grey : (H, W) float in [0, 1]. An image whose shorter side is below ``DETECT_MIN_SIDE`` pixels is enlarged by
    an integer factor first (bicubic): the cascade misses most faces of 64-pixel renders at their own size and
    finds 12 of 15 at 4× (azimuth ±40°, elevation ±15°).
    """
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    img = np.clip(grey * 255, 0, 255).astype(np.uint8)
    factor = max(1, min(-(-DETECT_MIN_SIDE // min(img.shape)), 4 * DETECT_MIN_SIDE // max(img.shape)))
    if factor > 1:
        img = cv2.resize(img, (img.shape[1] * factor, img.shape[0] * factor), interpolation=cv2.INTER_CUBIC)
    faces = cascade.detectMultiScale(img, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return tuple(int(round(v / factor)) for v in (x, y, w, h))


def face_frame(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Square crop (x, y, side, side) that frames a detected face box like the model's renders."""
    x, y, w, h = box
    side = int(round(max(w, h) * FACE_BOX_TO_FRAME))
    cx, cy = x + w / 2, y + h / 2 + FACE_BOX_SHIFT * h  # image y grows downwards
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side, side


def central_square(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The largest central square (x, y, side, side) in pixels of an image of ``shape`` (H, W, ...)."""
    h_img, w_img = shape[:2]
    side = min(h_img, w_img)
    return (w_img - side) // 2, (h_img - side) // 2, side, side


def crop_resize(grey: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> np.ndarray:
    """Crop (x, y, w, h) (zero-padded where it leaves the image; None = the central square) and resize to
    (size, size) float32 with Pillow's area-averaging filter."""
    h_img, w_img = grey.shape
    x, y, w, h = central_square(grey.shape) if box is None else box
    if x >= w_img or y >= h_img or x + w <= 0 or y + h <= 0:
        raise ValueError(f"--crop: box {box} lies outside the {w_img}×{h_img} image")
    canvas = np.zeros((h, w), np.float32)
    sx, sy = max(x, 0), max(y, 0)
    ex, ey = min(x + w, w_img), min(y + h, h_img)
    canvas[sy - y:ey - y, sx - x:ex - x] = grey[sy:ey, sx:ex]
    im = Image.fromarray(canvas, mode="F").resize((size, size), Image.Resampling.BOX if w >= size else
                                                  Image.Resampling.BILINEAR)
    return np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)


def prepare_observation(image: np.ndarray, crop, size: int) -> tuple[np.ndarray, dict]:
    """Photo -> the (size, size) grey observation the statistic sees, and a record of how it was framed.

    image : (H, W) or (H, W, 3) float in [0, 1]. crop : 'auto' (the largest Haar-cascade face, framed like the
    renders), None (the central square, for images already framed like the renders) or (x, y, w, h) in pixels.
    The record says whether a face was detected (``face_box``; None when none was) and which box was cut out
    (``frame``, (x, y, side, side) pixels). Raises ValueError when
    ``crop`` is 'auto' and no face is detected: the scene would otherwise be fitted to an image without a face.
    """
    grey = to_grey(image)
    found = detect_face(grey)
    if crop == "auto":
        if found is None:
            raise ValueError(f"image: no face detected in the {grey.shape[1]}×{grey.shape[0]} image; if it shows a "
                             "face, frame it with --crop x,y,w,h (pixels) or give --crop none for an image already "
                             "framed like the renders")
        box = face_frame(found)
        record = {"crop": "auto", "face_box": list(found), "frame": list(box)}
    else:
        box = crop if crop else central_square(grey.shape)
        record = {"crop": list(crop) if crop else "none", "face_box": list(found) if found else None,
                  "frame": list(box)}
    return crop_resize(grey, box, size), record


def save_png(path: Path | str, image: np.ndarray) -> None:
    """Write (H, W) or (H, W, 3) intensities in [0, 1] as an 8-bit PNG, atomically."""
    arr = (np.clip(np.asarray(image), 0, 1) * 255 + 0.5).astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")


def save_netcdf(idata, path: Path | str) -> None:
    """Write ArviZ InferenceData to NetCDF (h5netcdf) atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")


def write_table(table, path: Path | str) -> None:
    """Write a pandas DataFrame (e.g. an ArviZ summary) as CSV, its index labelled ``variable``, atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index_label="variable")
