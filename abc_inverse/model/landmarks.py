"""Head pose from facial landmarks, against our own mean face: an estimate of a photo's pose made without our
simulator or statistic, to check ``fit`` against (issue "Real photographs").

MediaPipe Face Mesh (Kartynnik et al. 2019) finds 468 landmarks in a photo; each corresponds to a vertex of
MediaPipe's canonical face model, which :func:`build_correspondence` registers once onto our mean face
(similarity ICP, trimmed) to get, for each landmark, the nearest vertex of our mesh. :func:`head_pose` then fits a
rotation, scale and translation (Umeyama 1991) from those vertices of our mean face to the landmarks and reads
azimuth, elevation (our renderer's convention, :func:`abc_inverse.render.simulator.rotation_matrices`) and roll off
it. A generic 6-point head model with ``cv2.solvePnP`` is biased in pitch by 10-20° (as measured for this project
before it was written); our own mesh's corresponding vertices are not.

The canonical model (``abc_inverse/data/mediapipe_canonical_face_model.obj``, centimetres, y up, the face towards
+z) is from the google/mediapipe repository (``mediapipe/modules/face_geometry/data/``, commit 9d8807788567),
Apache-2.0; the notice is ``abc_inverse/data/LICENSE-mediapipe.txt``. ``python -m abc_inverse.model.landmarks``
rebuilds ``abc_inverse/data/mediapipe_landmarks.npz`` from it and the shipped mean face.
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

import numpy as np

from abc_inverse.model.build_model import read_obj
from abc_inverse.model.morphable import load_model

N_LANDMARKS = 468
DATA = Path(str(files("abc_inverse") / "data"))
CANONICAL = DATA / "mediapipe_canonical_face_model.obj"
CORRESPONDENCE = DATA / "mediapipe_landmarks.npz"
POSE_MAX_DISTANCE_MM = 3.0  # landmarks whose canonical vertex lies farther from our mesh are not used for pose
ICP_ITERATIONS, ICP_KEEP = 60, 0.8  # trimmed ICP: each iteration fits the closest 80 % of the pairs


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The scale s, rotation R (3, 3) and translation t (3,) minimising Σ |target − (s R source + t)|² (Umeyama
    1991, with det R = +1). source, target : (K, 3) float, K ≥ 3 points not all on a line. Raises ValueError for
    mismatched or too few points."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3 or len(source) < 3:
        raise ValueError(f"points: expected two (K ≥ 3, 3) arrays of the same shape, got {source.shape} and "
                         f"{target.shape}")
    mean_s, mean_t = source.mean(0), target.mean(0)
    a, b = source - mean_s, target - mean_t
    u, d, vt = np.linalg.svd(b.T @ a / len(a))
    sign = np.array([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ np.diag(sign) @ vt
    scale = float((d * sign).sum() / a.var(0).sum())
    return scale, rotation, mean_t - scale * rotation @ mean_s


def build_correspondence(canonical: np.ndarray, mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Register the canonical landmark model (N_LANDMARKS, 3) in millimetres onto our mesh vertices (V, 3) by
    trimmed similarity ICP from a nose-tip-to-nose-tip start. Returns the nearest mesh vertex of each landmark
    (N_LANDMARKS,) int64 and its distance (N_LANDMARKS,) float64 mm after registration."""
    from scipy.spatial import cKDTree

    tree = cKDTree(mesh)
    start = canonical - canonical[np.argmax(canonical[:, 2])] + mesh[np.argmax(mesh[:, 2])]
    moved = start
    for _ in range(ICP_ITERATIONS):
        distance, index = tree.query(moved)
        keep = distance <= np.quantile(distance, ICP_KEEP)
        scale, rotation, shift = similarity_fit(start[keep], mesh[index[keep]])
        moved = scale * start @ rotation.T + shift
    distance, index = tree.query(moved)
    return index.astype(np.int64), distance


MODELS = ("mean_face", "canonical")  # what head_pose fits the landmarks against


def canonical_landmarks() -> np.ndarray:
    """MediaPipe's canonical face model, one point per landmark: (N_LANDMARKS, 3) float64 in millimetres (the file
    is in centimetres), y up, the face towards +z."""
    return read_obj(CANONICAL)[0].astype(np.float64) * 10.0


def landmark_vertices(against: str = "mean_face") -> tuple[np.ndarray, np.ndarray]:
    """(landmark ids (K,) int64 used for pose, their points (K, 3) float64 mm on the model ``against``): the
    landmarks whose correspondence is within ``POSE_MAX_DISTANCE_MM`` (the inner face; MediaPipe's face oval lies
    off our mesh's border), on our mean face ('mean_face', the corresponding vertices) or on MediaPipe's canonical
    model ('canonical', its own vertices, in its own frame: a cross-check of the reference that does not go through
    our mesh). Raises ValueError for another model, FileNotFoundError if the correspondence file is missing."""
    if against not in MODELS:
        raise ValueError(f"against: expected one of {MODELS}, got {against!r}")
    if not CORRESPONDENCE.is_file():
        raise FileNotFoundError(f"landmarks: no correspondence file {str(CORRESPONDENCE)!r}; run python -m "
                                "abc_inverse.model.landmarks")
    with np.load(CORRESPONDENCE) as z:
        vertex, distance = z["vertex"], z["distance"]
    ids = np.flatnonzero(distance <= POSE_MAX_DISTANCE_MM)
    if against == "canonical":
        return ids, canonical_landmarks()[ids]
    return ids, load_model().mean[vertex[ids]].astype(np.float64)


# dlib's 68-point landmarks (the iBUG 300-W markup, Sagonas et al. 2013), inner face 17-67, as MediaPipe Face Mesh
# landmarks: each the mean of one or two of them (the jaw line, 0-16, is a silhouette that slides over the face with
# pose, so it has no fixed vertex and is left out). Read off MediaPipe's canonical-model UV map and the 300-W markup.
DLIB_TO_MEDIAPIPE = {
    17: (70,), 18: (63,), 19: (105,), 20: (66,), 21: (107,),  # brow on the image's left
    22: (336,), 23: (296,), 24: (334,), 25: (293,), 26: (300,),  # brow on the image's right
    27: (168, 6), 28: (197, 195), 29: (5,), 30: (4,),  # nose bridge to tip
    31: (75,), 32: (97,), 33: (2,), 34: (326,), 35: (305,),  # nostrils
    36: (33,), 37: (160,), 38: (158,), 39: (133,), 40: (153,), 41: (144,),  # eye on the image's left
    42: (362,), 43: (385,), 44: (387,), 45: (263,), 46: (373,), 47: (380,),  # eye on the image's right
    48: (61,), 49: (39,), 50: (37,), 51: (0,), 52: (267,), 53: (269,), 54: (291,), 55: (405,), 56: (314,),
    57: (17,), 58: (84,), 59: (181,),  # outer lip
    60: (78,), 61: (82,), 62: (13,), 63: (312,), 64: (308,), 65: (317,), 66: (14,), 67: (87,),  # inner lip
}


def dlib_landmark_vertices() -> tuple[np.ndarray, np.ndarray]:
    """(dlib point ids (K,) int64, our mesh's vertex ids (K, 2) int64, a point being the mean of its two, repeated
    where it is one vertex) for the points of :data:`DLIB_TO_MEDIAPIPE` whose MediaPipe landmarks all lie within
    ``POSE_MAX_DISTANCE_MM`` of our mesh (46 of 51). Raises FileNotFoundError without the correspondence file."""
    if not CORRESPONDENCE.is_file():
        raise FileNotFoundError(f"landmarks: no correspondence file {str(CORRESPONDENCE)!r}; run python -m "
                                "abc_inverse.model.landmarks")
    with np.load(CORRESPONDENCE) as z:
        vertex, distance = z["vertex"], z["distance"]
    kept = [k for k, ids in DLIB_TO_MEDIAPIPE.items() if all(distance[i] <= POSE_MAX_DISTANCE_MM for i in ids)]
    pairs = [[vertex[i] for i in DLIB_TO_MEDIAPIPE[k]] for k in kept]
    return np.array(kept, np.int64), np.array([p if len(p) == 2 else p * 2 for p in pairs], np.int64)


def angles_of(rotation: np.ndarray) -> tuple[float, float, float]:
    """(azimuth, elevation, roll) in degrees of a rotation R (3, 3) = R_z(roll) · R_x(elevation) · R_y(azimuth), the
    model-to-view rotation of :func:`abc_inverse.render.simulator.rotation_matrices` with an in-image roll
    (counter-clockwise positive) in front."""
    r = np.asarray(rotation, np.float64)
    elevation = np.arcsin(np.clip(-r[2, 1], -1.0, 1.0))
    azimuth = np.arctan2(-r[2, 0], r[2, 2])
    ca, sa, ce, se = np.cos(azimuth), np.sin(azimuth), np.cos(elevation), np.sin(elevation)
    pose = np.array([[ca, 0.0, sa], [-se * sa, ce, se * ca], [-ce * sa, -se, ce * ca]])
    roll_matrix = r @ pose.T
    return float(np.degrees(azimuth)), float(np.degrees(elevation)), \
        float(np.degrees(np.arctan2(roll_matrix[1, 0], roll_matrix[0, 0])))


def head_pose(points: np.ndarray, against: str = "mean_face") -> dict:
    """The head pose of one face from its landmarks, against our mean face (default) or MediaPipe's canonical
    model (:func:`landmark_vertices`; its frame is not our renderer's, so its angles differ from ours by a constant
    rotation: elevation by about −7°, ``docs/results/real_photos``).

    points : (468, 3) float, MediaPipe Face Mesh landmarks in pixels: x to the image's right, y down, z the depth
    (negative towards the camera) in the same units as x (MediaPipe's normalised x·W, y·H, z·W). Returns
    {'azimuth', 'elevation', 'roll'} in degrees (positive azimuth: the face turns to the viewer's right; positive
    elevation: it tilts up; as ``abc-inverse render``) and 'rms_px', the fit's root-mean-square residual in pixels.
    A weak-perspective estimate: it ignores the perspective of a close camera. Raises ValueError for another
    shape or non-finite points or another model, FileNotFoundError without the correspondence file."""
    points = np.asarray(points, np.float64)
    if points.shape != (N_LANDMARKS, 3) or not np.all(np.isfinite(points)):
        raise ValueError(f"points: expected finite landmarks of shape ({N_LANDMARKS}, 3), got {points.shape}")
    ids, vertices = landmark_vertices(against)
    view = points[ids] * np.array([1.0, -1.0, -1.0])  # to x right, y up, z towards the viewer
    scale, rotation, shift = similarity_fit(vertices, view)
    residual = view - (scale * vertices @ rotation.T + shift)
    azimuth, elevation, roll = angles_of(rotation)
    return {"azimuth": azimuth, "elevation": elevation, "roll": roll,
            "rms_px": float(np.sqrt(np.mean(np.sum(residual**2, axis=1))))}


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m abc_inverse.model.landmarks [--out PATH]`` rebuilds the correspondence file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CORRESPONDENCE)
    args = parser.parse_args(argv)
    vertex, distance = build_correspondence(canonical_landmarks(), load_model().mean.astype(np.float64))
    tmp = args.out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, vertex=vertex, distance=distance)
    tmp.replace(args.out)
    used = int((distance <= POSE_MAX_DISTANCE_MM).sum())
    print(f"wrote {args.out}: {len(vertex)} landmarks, median distance {np.median(distance):.2f} mm, {used} within "
          f"{POSE_MAX_DISTANCE_MM:g} mm (used for pose)")


if __name__ == "__main__":
    main()
