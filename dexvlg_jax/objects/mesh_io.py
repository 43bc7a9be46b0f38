"""Import of user meshes (OBJ, GLB/GLTF, STL, PLY, OFF) with optional per-face part labels.

Part-label sidecar: a JSON file passed as `labels_path`, or found next to the mesh as `<stem>.parts.json`
(`mug.obj` -> `mug.parts.json`). Face indices count the triangles of the mesh as trimesh loads it with
`process=False` (polygons split into triangles in file order; for a multi-mesh GLB, the meshes concatenated in
scene order). Two equivalent forms:

    {"part_names": ["body", "handle"], "face_part_ids": [0, 0, 1, ...],      # one id per face
     "part_classes": ["shaft", "L"]}                                         # optional
    {"parts": [{"name": "body", "faces": [0, 1, 2, ...], "class": "shaft"},  # "class" optional
               {"name": "handle", "faces": [...]}]}

In the "parts" form every face may belong to at most one part; unlisted faces form an extra part "rest".
Classes are one of "lid", "disk", "L", "shaft" (missing ones are classified geometrically during processing).
Without a sidecar, a multi-mesh scene gets one part per mesh (named after it), a single mesh one part "object".

Every problem raises `ObjectError` naming the file and the reason: missing, empty, unsupported type,
unparsable, no triangles, more than `max_faces` faces (checked from the header first where the format allows),
degenerate (< 4 faces, non-finite or zero-area, flat = zero volume), or a sidecar that does not match.
"""
from __future__ import annotations

import json
import os
import pathlib
import struct

import numpy as np
import trimesh

from dexvlg_jax.objects.containers import PART_CLASSES, LabeledMesh
from dexvlg_jax.objects.errors import ObjectError

MAX_FACES = 2_000_000
MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".stl", ".ply", ".off")


def count_faces_from_header(path: pathlib.Path) -> int | None:
    """Face count read cheaply (header or line count) for STL, PLY and OBJ; None where it cannot be known."""
    suffix = path.suffix.lower()
    with open(path, "rb") as stream:
        head = stream.read(1024)
        if suffix == ".stl":
            if head[:5].lower() == b"solid" and b"facet" in head:
                return _count_in_stream(stream, b"facet normal")
            return struct.unpack("<I", head[80:84])[0] if len(head) >= 84 else None
        if suffix == ".ply":
            end = head.find(b"end_header")
            header = head[:end] if end >= 0 else head
            for line in header.decode("ascii", "replace").splitlines():
                fields = line.split()
                if len(fields) == 3 and fields[0] == "element" and fields[1] == "face":
                    return int(fields[2]) if fields[2].isdigit() else None
            return None
        if suffix == ".obj":
            return _count_in_stream(stream, b"\nf ") + int(head.startswith(b"f "))
    return None


def _count_in_stream(stream, token: bytes, block: int = 1 << 24) -> int:
    """Occurrences of `token` in a binary stream, read in blocks (constant memory for huge files)."""
    stream.seek(0)
    count, tail = 0, b""
    while True:
        data = stream.read(block)
        if not data:
            return count
        window = tail + data
        count += window.count(token)
        tail = window[-(len(token) - 1):]  # shorter than the token: a match spanning blocks is counted once


def validate_mesh(vertices: np.ndarray, faces: np.ndarray, source: str, max_faces: int = MAX_FACES) -> None:
    """Raise ObjectError(source, reason) if the triangle arrays are unusable as a solid object."""
    vertices, faces = np.asarray(vertices), np.asarray(faces)
    if faces.ndim != 2 or faces.shape[-1] != 3 or len(faces) == 0:
        raise ObjectError(source, "contains no triangles")
    if len(faces) > max_faces:
        raise ObjectError(source, f"has {len(faces)} faces, more than the limit of {max_faces}")
    if len(faces) < 4:
        raise ObjectError(source, f"degenerate mesh: only {len(faces)} faces (a solid needs at least 4)")
    if not np.all(np.isfinite(vertices)):
        raise ObjectError(source, "degenerate mesh: non-finite vertex coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ObjectError(source, f"face indices out of range [0, {len(vertices)})")
    triangles = vertices[faces].astype(np.float64)
    area = 0.5 * np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
    size = float(np.ptp(vertices[np.unique(faces)], axis=0).max())
    if size <= 0 or area.sum() <= 1e-12 * size * size:
        raise ObjectError(source, "degenerate mesh: zero surface area")
    used = vertices[np.unique(faces)].astype(np.float64)
    singular_values = np.linalg.svd(used - used.mean(0), compute_uv=False)
    if singular_values[-1] <= 1e-6 * singular_values[0]:
        raise ObjectError(source, "degenerate mesh: zero volume (all vertices lie in a plane or on a line)")


def _load_triangles(path: pathlib.Path, source: str):
    """(vertices, faces, per-face mesh index, mesh names) of everything in the file, in world placement."""
    try:
        loaded = trimesh.load(str(path), process=False)
    except Exception as error:  # trimesh raises many types for broken files
        raise ObjectError(source, f"could not be parsed as a mesh ({type(error).__name__}: {error})") from error
    if isinstance(loaded, trimesh.Scene):
        meshes, names = [], []
        for node_name in loaded.graph.nodes_geometry:
            transform, geometry_name = loaded.graph[node_name]
            geometry = loaded.geometry[geometry_name]
            if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces):
                meshes.append(geometry.copy().apply_transform(transform))
                names.append(str(node_name))
    elif isinstance(loaded, trimesh.Trimesh):
        meshes, names = [loaded], ["object"]
    else:
        raise ObjectError(source, f"contains no triangles (got a {type(loaded).__name__})")
    meshes = [m for m in meshes if len(m.faces)]
    if not meshes:
        raise ObjectError(source, "contains no triangles")
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    vertices = np.concatenate([m.vertices for m in meshes], 0).astype(np.float64)
    faces = np.concatenate([m.faces + offsets[i] for i, m in enumerate(meshes)], 0).astype(np.int64)
    mesh_index = np.concatenate([np.full(len(m.faces), i) for i, m in enumerate(meshes)]).astype(np.int64)
    return vertices, faces, mesh_index, names


def read_part_labels(labels_path: str | os.PathLike, num_faces: int, source: str | None = None):
    """Parse a part-label sidecar for a mesh of `num_faces` faces -> (face_part_ids, part_names, part_classes)."""
    labels_path = pathlib.Path(labels_path)
    source = source or str(labels_path)
    where = f"label file {labels_path}"
    try:
        spec = json.loads(labels_path.read_text())
    except (OSError, ValueError) as error:
        raise ObjectError(source, f"{where} could not be read as JSON ({error})") from error
    if not isinstance(spec, dict):
        raise ObjectError(source, f"{where} must hold a JSON object")
    if "parts" in spec:
        parts = spec["parts"]
        face_part_ids = np.full(num_faces, -1, np.int64)
        names, classes = [], []
        for index, part in enumerate(parts):
            faces = np.asarray(part.get("faces", []), np.int64)
            if faces.size and (faces.min() < 0 or faces.max() >= num_faces):
                raise ObjectError(source, f"{where}: part {part.get('name')!r} lists face {int(faces.max())} "
                                          f"but the mesh has {num_faces} faces")
            if np.any(face_part_ids[faces] >= 0):
                raise ObjectError(source, f"{where}: part {part.get('name')!r} reuses faces of another part")
            face_part_ids[faces] = index
            names.append(str(part.get("name", f"part_{index}")))
            classes.append(str(part.get("class", "")))
        if np.any(face_part_ids < 0):
            face_part_ids[face_part_ids < 0] = len(names)
            names.append("rest")
            classes.append("")
    elif "face_part_ids" in spec and "part_names" in spec:
        face_part_ids = np.asarray(spec["face_part_ids"], np.int64).reshape(-1)
        names = [str(n) for n in spec["part_names"]]
        classes = [str(c) for c in spec.get("part_classes", [""] * len(names))]
        if len(face_part_ids) != num_faces:
            raise ObjectError(source, f"{where}: face_part_ids has {len(face_part_ids)} entries but the mesh has "
                                      f"{num_faces} faces")
        if len(classes) != len(names):
            raise ObjectError(source, f"{where}: {len(classes)} part_classes for {len(names)} part_names")
        if face_part_ids.size and (face_part_ids.min() < 0 or face_part_ids.max() >= len(names)):
            raise ObjectError(source, f"{where}: part id {int(face_part_ids.max())} out of range for "
                                      f"{len(names)} part names")
    else:
        raise ObjectError(source, f"{where} needs either 'parts' or 'part_names' + 'face_part_ids'")
    bad = [c for c in classes if c and c not in PART_CLASSES]
    if bad:
        raise ObjectError(source, f"{where}: unknown part class {bad[0]!r} (use one of {PART_CLASSES})")
    return face_part_ids, names, classes


def load_mesh(
    path: str | os.PathLike,
    labels_path: str | os.PathLike | None = None,
    max_faces: int = MAX_FACES,
    category: str = "user",
    up_axis: str | None = None,
) -> LabeledMesh:
    """Load a mesh file (+ optional part-label sidecar, see module docstring) as a LabeledMesh (source units).

    up_axis: the file's up direction, "z" or "y"; None means "y" for GLB/GLTF (the glTF convention) and "z"
    otherwise. A y-up mesh is turned to z-up by +90 degrees about x: (x, y, z) -> (x, -z, y).
    """
    path = pathlib.Path(path)
    source = str(path)
    if not path.is_file():
        raise ObjectError(source, "file not found")
    if path.stat().st_size == 0:
        raise ObjectError(source, "empty file")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise ObjectError(source, f"unsupported file type {path.suffix!r} (use one of {', '.join(MESH_SUFFIXES)})")
    try:
        header_faces = count_faces_from_header(path)
    except (OSError, ValueError, struct.error):
        header_faces = None
    if header_faces is not None and header_faces > max_faces:
        raise ObjectError(source, f"has {header_faces} faces, more than the limit of {max_faces}")
    vertices, faces, mesh_index, mesh_names = _load_triangles(path, source)
    validate_mesh(vertices, faces, source, max_faces)
    if up_axis is None:
        up_axis = "y" if path.suffix.lower() in (".glb", ".gltf") else "z"
    if up_axis == "y":
        vertices = np.stack([vertices[:, 0], -vertices[:, 2], vertices[:, 1]], 1)
    elif up_axis != "z":
        raise ValueError(f"up_axis must be 'y', 'z' or None, got {up_axis!r}")
    if labels_path is None:
        default = path.with_name(path.stem + ".parts.json")
        labels_path = default if default.is_file() else None
    if labels_path is not None:
        face_part_ids, names, classes = read_part_labels(labels_path, len(faces), source)
    else:
        face_part_ids, names, classes = mesh_index, list(mesh_names), [""] * len(mesh_names)
    return LabeledMesh(
        vertices=vertices,
        faces=faces,
        face_part_ids=face_part_ids,
        part_names=names,
        part_classes=classes,
        category=category,
        name=path.stem,
    )
