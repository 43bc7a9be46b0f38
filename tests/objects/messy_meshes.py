"""Real-looking household meshes, broken on purpose the ways downloaded meshes are (for tests and measurements).

Shapes (`SHAPES`, metres, z up, each a trimesh.Trimesh built from trimesh primitives): bottle, can, box, lemon,
apple, mug, duck (toy), hammer, cup (open top), ring (torus), rock (random convex hull), jar. Several are
concatenations of overlapping closed pieces (bottle body + neck, mug body + handle, duck body + head): that is
the self-intersection that CAD exports carry.

Breakers (`BREAKERS`, each (mesh, rng) -> (vertices, faces) of a broken triangle soup):
  - "hole":       faces within a small cap around one surface point removed (an open boundary loop);
  - "duplicate":  10% of the faces appended a second time (duplicated faces);
  - "nonmanifold": a small fin triangle glued to an existing edge (an edge used by three faces);
  - "flipped":    30% of the faces with reversed winding (flipped normals);
  - "inside_out": every face reversed;
  - "none":       the shape as built (still self-intersecting where it has overlapping pieces).

`messy_folder(folder, count)` writes `count` OBJ/STL/PLY files mixing shapes, breakers and units (mm, cm, m, and
"unit cube": the longest side scaled to 1) and returns their [(file name, shape, breaker, unit, metres per file
unit or None for unit-cube)]. `python tests/objects/messy_meshes.py FOLDER [COUNT]` does the same from a shell.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import trimesh

UNITS = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}  # metres per file unit


def _cylinder(radius, height, z0=0.0, sections=32):
    return trimesh.creation.cylinder(radius=radius, height=height, sections=sections).apply_translation(
        [0, 0, z0 + height / 2])


def _concat(*meshes):
    return trimesh.util.concatenate(list(meshes))


def bottle():
    return _concat(_cylinder(0.035, 0.17), _cylinder(0.013, 0.07, z0=0.15), _cylinder(0.015, 0.02, z0=0.21))


def can():
    return _cylinder(0.033, 0.12)


def box():
    return trimesh.creation.box([0.19, 0.06, 0.28]).apply_translation([0, 0, 0.14])


def lemon():
    return trimesh.creation.icosphere(3, radius=0.5).apply_scale([0.045, 0.045, 0.06])


def apple():
    return trimesh.creation.icosphere(3, radius=0.04)


def mug():
    handle = trimesh.creation.torus(0.03, 0.008, major_sections=24, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    return _concat(_cylinder(0.04, 0.1), handle.apply_translation([0.045, 0, 0.05]))


def duck():
    body = trimesh.creation.icosphere(2, radius=0.05).apply_scale([1.3, 1.0, 0.8])
    head = trimesh.creation.icosphere(2, radius=0.03).apply_translation([0.045, 0, 0.05])
    return _concat(body, head)


def hammer():
    handle = _cylinder(0.014, 0.28)
    head = trimesh.creation.box([0.11, 0.03, 0.03]).apply_translation([0.02, 0, 0.28])
    return _concat(handle, head)


def cup():
    """Open at the top: a cylinder without its top cap (a large boundary loop)."""
    mesh = _cylinder(0.04, 0.1)
    top = mesh.triangles_center[:, 2] > 0.1 - 1e-6
    return trimesh.Trimesh(mesh.vertices, mesh.faces[~top], process=False)


def ring():
    return trimesh.creation.torus(0.05, 0.015, major_sections=32, minor_sections=16)


def rock(seed=0):
    points = np.random.default_rng(seed).normal(size=(60, 3)) * [0.05, 0.04, 0.03]
    return trimesh.convex.convex_hull(points)


def jar():
    return _concat(_cylinder(0.045, 0.11), _cylinder(0.05, 0.025, z0=0.1))


SHAPES = {"bottle": bottle, "can": can, "box": box, "lemon": lemon, "apple": apple, "mug": mug, "duck": duck,
          "hammer": hammer, "cup": cup, "ring": ring, "rock": rock, "jar": jar}


def _soup(mesh):
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


def hole(mesh, rng):
    vertices, faces = _soup(mesh)
    centers = vertices[faces].mean(1)
    seed_face = rng.integers(len(faces))
    radius = 0.12 * float(np.linalg.norm(np.ptp(vertices, 0)))
    distance = np.linalg.norm(centers - centers[seed_face], axis=1)
    keep = distance > min(radius, np.sort(distance)[max(3, len(faces) // 20)])
    return vertices, faces[keep]


def duplicate(mesh, rng):
    vertices, faces = _soup(mesh)
    extra = faces[rng.choice(len(faces), max(1, len(faces) // 10), replace=False)]
    return vertices, np.concatenate([faces, extra])


def nonmanifold(mesh, rng):
    """A fin: a third triangle on an existing edge, pointing out along the face normal (5% of the size)."""
    vertices, faces = _soup(mesh)
    face = int(rng.integers(len(faces)))
    a, b, c = vertices[faces[face]]
    normal = np.cross(b - a, c - a)
    normal /= np.linalg.norm(normal)
    tip = (a + b) / 2 + 0.05 * float(np.linalg.norm(np.ptp(vertices, 0))) * normal
    vertices = np.concatenate([vertices, tip[None]])
    return vertices, np.concatenate([faces, [[faces[face, 1], faces[face, 0], len(vertices) - 1]]])


def flipped(mesh, rng):
    vertices, faces = _soup(mesh)
    flip = rng.random(len(faces)) < 0.3
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return vertices, faces


def inside_out(mesh, rng):
    vertices, faces = _soup(mesh)
    return vertices, faces[:, ::-1].copy()


def as_built(mesh, rng):
    return _soup(mesh)


BREAKERS = {"hole": hole, "duplicate": duplicate, "nonmanifold": nonmanifold, "flipped": flipped,
            "inside_out": inside_out, "none": as_built}


def broken(shape: str, breaker: str, seed: int = 0):
    """(clean trimesh in metres, broken vertices (V, 3) metres, broken faces (F, 3)) of one shape."""
    clean = SHAPES[shape]()
    vertices, faces = BREAKERS[breaker](clean, np.random.default_rng(seed))
    return clean, vertices, faces


def messy_folder(folder: str, count: int = 24, seed: int = 0):
    """Write `count` broken meshes (see module docstring) to `folder`; returns their descriptions."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    shapes, breakers = list(SHAPES), list(BREAKERS)
    units = ["mm", "cm", "m", "unit"]
    suffixes = [".obj", ".stl", ".ply"]
    written = []
    for i in range(count):
        shape, breaker = shapes[i % len(shapes)], breakers[(i * 5 + i // len(shapes)) % len(breakers)]
        unit, suffix = units[(i * 3 + 1) % len(units)], suffixes[i % len(suffixes)]
        _, vertices, faces = broken(shape, breaker, seed=int(rng.integers(1 << 30)))
        if unit == "unit":
            vertices = vertices / float(np.ptp(vertices, 0).max())
            metres = None
        else:
            vertices = vertices / UNITS[unit]
            metres = UNITS[unit]
        name = f"{i:02d}_{shape}_{breaker}_{unit}{suffix}"
        trimesh.Trimesh(vertices, faces, process=False).export(os.path.join(folder, name))
        written.append((name, shape, breaker, unit, metres))
    return written


if __name__ == "__main__":
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 24
    for row in messy_folder(out, n):
        print(*row)
