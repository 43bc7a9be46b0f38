"""Object containers and their .npz cache format.

Object frame (every ProcessedObject): metres, right-handed, z up, origin at the centre of the mesh's
axis-aligned bounding box. `LabeledMesh` is in whatever units/frame its source had (procedural objects:
metres, z up, resting on z = 0 or lying along x).

Containers are frozen dataclasses holding numpy arrays (host side); convert with `jnp.asarray` where a jitted
stage needs them. `save_processed` / `load_processed` store one ProcessedObject per .npz, without pickle:
strings go in a JSON document stored as a 0-d unicode array.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zipfile

import numpy as np

from dexvlg_jax import atomic_io
from dexvlg_jax.geometry.mesh_sdf import SDFGrid

PART_CLASSES = ("lid", "disk", "L", "shaft")
_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class LabeledMesh:
    """A triangle mesh with a semantic part label on every face.

    vertices (V, 3) float64; faces (F, 3) int64 (counter-clockwise seen from outside); face_part_ids (F,) int64
    indexing part_names / part_classes. part_classes entries are in PART_CLASSES, or "" when unknown (the
    processing step then classifies the part geometrically).
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_part_ids: np.ndarray
    part_names: list[str]
    part_classes: list[str]
    category: str
    name: str

    @property
    def num_parts(self) -> int:
        return len(self.part_names)

    def to_trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)

    def part_trimesh(self, part_id: int):
        """The faces of one part as an (open) trimesh, vertices not re-indexed away."""
        import trimesh

        faces = self.faces[self.face_part_ids == part_id]
        return trimesh.Trimesh(self.vertices, faces, process=False).copy(include_cache=False)


@dataclasses.dataclass(frozen=True)
class ProcessedObject:
    """An object ready for grasp synthesis and simulation, all in the object frame (metres, z up, bbox centred).

    vertices (V, 3) float32, faces (F, 3) int32, face_part_ids (F,) int32: the watertight, rescaled mesh.
    scale: metres per source unit; a source point x maps to (x - source_center) * scale.
    source_center (3,): bounding-box centre of the source mesh, in source units.
    convex_pieces: list of (V_i, 3) float32 hull vertices, V_i <= 64 (MJX mesh geoms); piece_part_ids (K,).
    surface_points (N, 3), surface_normals (N, 3) (outward unit), surface_part_ids (N,).
    sdf: SDFGrid of the mesh (negative inside).
    part_names, part_classes (in PART_CLASSES); part_centroids (Np, 3) area-weighted surface centroids;
    part_axes (Np, 3, 3): columns are the part's oriented-box axes sorted by decreasing extent;
    part_extents (Np, 3): box side lengths along those axes (metres).
    """

    name: str
    category: str
    vertices: np.ndarray
    faces: np.ndarray
    face_part_ids: np.ndarray
    scale: float
    source_center: np.ndarray
    convex_pieces: list
    piece_part_ids: np.ndarray
    surface_points: np.ndarray
    surface_normals: np.ndarray
    surface_part_ids: np.ndarray
    sdf: SDFGrid
    part_names: list[str]
    part_classes: list[str]
    part_centroids: np.ndarray
    part_axes: np.ndarray
    part_extents: np.ndarray

    @property
    def num_parts(self) -> int:
        return len(self.part_names)

    @property
    def bbox_diagonal(self) -> float:
        return float(np.linalg.norm(self.vertices.max(0) - self.vertices.min(0)))

    def to_trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False)


_ARRAY_FIELDS = (
    "vertices", "faces", "face_part_ids", "source_center", "piece_part_ids", "surface_points",
    "surface_normals", "surface_part_ids", "part_centroids", "part_axes", "part_extents",
)


def save_processed(obj: ProcessedObject, path: str | os.PathLike) -> None:
    """Write one ProcessedObject to `path` (.npz, compressed, loadable with allow_pickle=False)."""
    meta = {
        "format_version": _FORMAT_VERSION,
        "name": obj.name,
        "category": obj.category,
        "scale": float(obj.scale),
        "part_names": list(obj.part_names),
        "part_classes": list(obj.part_classes),
    }
    piece_sizes = np.array([len(p) for p in obj.convex_pieces], np.int32)
    pieces = (np.concatenate(obj.convex_pieces, 0) if len(obj.convex_pieces) else np.zeros((0, 3))).astype(np.float32)
    arrays = {name: np.asarray(getattr(obj, name)) for name in _ARRAY_FIELDS}
    atomic_io.write_npz(  # a crash never leaves a half-written cache file
        path,
        compressed=True,
        meta_json=np.array(json.dumps(meta)),
        piece_vertices=pieces,
        piece_sizes=piece_sizes,
        sdf_origin=np.asarray(obj.sdf.origin, np.float32),
        sdf_spacing=np.asarray(obj.sdf.spacing, np.float32),
        sdf_values=np.asarray(obj.sdf.values, np.float32),
        **arrays,
    )


class CorruptFileError(ValueError):
    """A file the project wrote earlier cannot be parsed (truncated, overwritten, another format); names it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot be read ({reason})")


def load_processed(path: str | os.PathLike) -> ProcessedObject:
    """Read a ProcessedObject written by `save_processed`; a file that cannot be parsed raises
    `CorruptFileError` naming it (a missing file raises FileNotFoundError)."""
    try:
        return _load_processed(path)
    except (FileNotFoundError, IsADirectoryError):
        raise
    except (ValueError, KeyError, EOFError, OSError, zipfile.BadZipFile) as err:
        if isinstance(err, CorruptFileError):
            raise
        raise CorruptFileError(path, f"{type(err).__name__}: {err}") from err


def load_cached_processed(path: str | os.PathLike) -> ProcessedObject | None:
    """A cached ProcessedObject, or None when `path` does not exist or was corrupt (then it is moved aside to
    `<path>.corrupt-<time>` with a warning naming it, and the caller rebuilds and saves it again)."""
    if not os.path.exists(path):
        return None
    try:
        return load_processed(path)
    except CorruptFileError as err:
        atomic_io.move_aside(path, err.reason)
        return None


def _load_processed(path: str | os.PathLike) -> ProcessedObject:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta_json"]))
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported processed-object format {meta.get('format_version')}")
        offsets = np.concatenate([[0], np.cumsum(data["piece_sizes"])])
        piece_vertices = data["piece_vertices"]
        pieces = [piece_vertices[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
        arrays = {name: data[name] for name in _ARRAY_FIELDS}
        sdf = SDFGrid(origin=data["sdf_origin"], spacing=data["sdf_spacing"][()], values=data["sdf_values"])
    return ProcessedObject(
        name=meta["name"],
        category=meta["category"],
        scale=meta["scale"],
        convex_pieces=pieces,
        sdf=sdf,
        part_names=meta["part_names"],
        part_classes=meta["part_classes"],
        **arrays,
    )
