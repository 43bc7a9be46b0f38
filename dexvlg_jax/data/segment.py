"""Part segmentation of unlabeled meshes behind a `Segmenter` interface (the paper uses SAMesh).

`GeometricSegmenter` (offline default) = recursive spectral normalised cuts on the face dual graph, with edge
weights that make concave creases cheap to cut (parts are glued along concave seams: a handle meets a body at a
concave crease; a box corner is convex and is not cut):

    w(e) = length(e) * exp(-angle(e) / sigma)        concave edge, angle = dihedral angle between normals
    w(e) = length(e) * exp(-angle(e) / (10 sigma))   convex edge

Faces carry their areas as mass, so the Fiedler vector of L v = lambda M v (L the weighted graph Laplacian,
M = diag(face areas)) is a mesh-resolution-independent embedding; a sweep over it picks the cut minimising the
dimensionless normalised cut  cut(A, B) * sqrt(area) * (1 / area(A) + 1 / area(B)).  A segment is split while the
best cut costs < `max_ncut` and both sides keep >= `min_part_fraction` of the total area. Connected components
are always separate segments. Any external segmenter (SAMesh, a learned model) plugs in by implementing
`Segmenter.segment`. `ensure_parts` keeps the labels of labeled meshes and segments only unlabeled ones.
"""
from __future__ import annotations

import abc
import dataclasses

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import linear_sum_assignment


class Segmenter(abc.ABC):
    """Splits a triangle mesh into parts: `segment(vertices (V, 3), faces (F, 3)) -> face_part_ids (F,) int64`.

    Part ids are 0..K-1, numbered by decreasing area (part 0 is the largest). Units and frame are the mesh's own.
    """

    @abc.abstractmethod
    def segment(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        ...


def _renumber_by_area(labels: np.ndarray, areas: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(labels, return_inverse=True)
    totals = np.bincount(inverse, weights=areas, minlength=len(unique))
    rank = np.empty(len(unique), np.int64)
    rank[np.argsort(-totals, kind="stable")] = np.arange(len(unique))
    return rank[inverse]


@dataclasses.dataclass(frozen=True)
class GeometricSegmenter(Segmenter):
    """Recursive concavity-aware spectral segmentation (see the module docstring).

    Attributes:
      max_ncut: split a segment only while its best normalised cut is below this.
      min_part_fraction: smallest part, as a fraction of the whole mesh's area.
      sigma: concavity sharpness (radians).
      max_parts: hard cap on the number of parts.
    """

    max_ncut: float = 1.0
    min_part_fraction: float = 0.01
    sigma: float = 0.15
    max_parts: int = 8

    def segment(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        import trimesh

        vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
        if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
            raise ValueError(f"GeometricSegmenter: faces must be a non-empty (F, 3) array, got {faces.shape}")
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        if not mesh.is_watertight:  # e.g. vertices split along UV seams: weld them (may leave slivers)
            mesh.merge_vertices()
        areas = np.maximum(mesh.area_faces, 1e-12 * max(mesh.area, 1e-12))
        adjacency = mesh.face_adjacency
        edges = mesh.vertices[mesh.face_adjacency_edges]
        lengths = np.linalg.norm(edges[:, 0] - edges[:, 1], axis=1)
        angles = mesh.face_adjacency_angles
        scale = np.where(mesh.face_adjacency_convex, 10.0 * self.sigma, self.sigma)
        weights = lengths * np.exp(-angles / scale) + 1e-9 * lengths.mean()
        num_faces = len(faces)
        graph = sp.coo_matrix((np.concatenate([weights, weights]),
                               (np.concatenate([adjacency[:, 0], adjacency[:, 1]]),
                                np.concatenate([adjacency[:, 1], adjacency[:, 0]]))),
                              shape=(num_faces, num_faces)).tocsr()
        _, components = sp.csgraph.connected_components(graph, directed=False)
        total_area = areas.sum()
        pending = [np.flatnonzero(components == c) for c in range(components.max() + 1)]
        final = []
        while pending:
            segment = pending.pop()
            halves = None
            if len(final) + len(pending) + 1 < self.max_parts:
                halves = self._best_cut(graph, areas, segment, total_area)
            if halves is None:
                final.append(segment)
            else:
                pending.extend(halves)
        labels = np.zeros(num_faces, np.int64)
        for index, segment in enumerate(final):
            labels[segment] = index
        return _renumber_by_area(_absorb_slivers(mesh, labels, areas, self.min_part_fraction * total_area), areas)

    def _best_cut(self, graph, areas, segment, total_area):
        """Best normalised sweep cut of `segment` along its Fiedler vector, or None when not worth cutting."""
        area = areas[segment].sum()
        min_area = self.min_part_fraction * total_area
        if len(segment) < 8 or area < 2 * min_area:
            return None
        sub = graph[segment][:, segment]
        laplacian = sp.diags(np.asarray(sub.sum(axis=1)).ravel()) - sub
        mass = sp.diags(areas[segment] / area)
        try:
            _, vectors = spla.eigsh(laplacian.tocsc(), k=2, M=mass.tocsc(), sigma=-1e-3, which="LM")
        except (RuntimeError, spla.ArpackNoConvergence):
            return None
        order = np.argsort(vectors[:, 1], kind="stable")
        position = np.empty(len(segment), np.int64)
        position[order] = np.arange(len(segment))
        # Moving face order[i] from side B to side A changes the cut by (its weight to B) - (its weight to A).
        sub = sub.tocoo()
        before = position[sub.col] < position[sub.row]  # neighbour already in A when this face moves
        delta = np.bincount(position[sub.row], weights=np.where(before, -sub.data, sub.data), minlength=len(segment))
        cut = np.cumsum(delta)[:-1]
        area_a = np.cumsum(areas[segment][order])[:-1]
        area_b = area - area_a
        ncut = cut * np.sqrt(total_area) * (1.0 / area_a + 1.0 / area_b)
        ncut[(area_a < min_area) | (area_b < min_area)] = np.inf
        best = int(np.argmin(ncut))
        if not np.isfinite(ncut[best]) or ncut[best] >= self.max_ncut:
            return None
        return [segment[order[:best + 1]], segment[order[best + 1:]]]


def _absorb_slivers(mesh, labels, areas, min_area):
    """Segments smaller than `min_area` (slivers, degenerate faces) join the segment of the nearest other face."""
    from scipy.spatial import cKDTree

    totals = np.bincount(labels, weights=areas)
    small = totals < min_area
    if not small.any() or small.all():
        return labels
    keep = ~small[labels]
    centers = mesh.triangles_center
    _, nearest = cKDTree(centers[keep]).query(centers[~keep])
    labels = labels.copy()
    labels[~keep] = labels[keep][nearest]
    return labels


def part_iou(true_ids: np.ndarray, predicted_ids: np.ndarray, areas: np.ndarray) -> tuple[float, np.ndarray]:
    """Area-weighted IoU of a predicted segmentation against the truth, parts matched one-to-one (Hungarian).

    Returns (mean IoU over true parts, per-true-part IoU (Kt,)); unmatched true parts score 0.
    """
    true_ids, predicted_ids = np.asarray(true_ids), np.asarray(predicted_ids)
    num_true, num_pred = true_ids.max() + 1, predicted_ids.max() + 1
    inter = np.zeros((num_true, num_pred))
    np.add.at(inter, (true_ids, predicted_ids), areas)
    union = inter.sum(1, keepdims=True) + inter.sum(0, keepdims=True) - inter
    iou = inter / np.maximum(union, 1e-30)
    rows, cols = linear_sum_assignment(-iou)
    per_part = np.zeros(num_true)
    per_part[rows] = iou[rows, cols]
    return float(per_part.mean()), per_part


def ensure_parts(mesh, segmenter: Segmenter | None = None):
    """A LabeledMesh with parts. Meshes labeled with >= 2 parts (every face in a named part) are returned
    unchanged; unlabeled or single-part meshes are segmented with `segmenter` (default GeometricSegmenter). When
    segmentation finds >= 2 parts, they get empty names / classes, which the annotator (names) and the object
    stage's `classify_part` (classes) fill in; when it finds one part, the mesh is returned unchanged.
    """
    names = list(getattr(mesh, "part_names", []) or [])
    ids = getattr(mesh, "face_part_ids", None)
    if (len(names) >= 2 and ids is not None and len(ids) == len(mesh.faces)
            and np.all((ids >= 0) & (ids < len(names)))):
        return mesh
    labels = (segmenter or GeometricSegmenter()).segment(mesh.vertices, mesh.faces)
    labels = np.asarray(labels, np.int64)
    if labels.shape != (len(mesh.faces),) or labels.min() < 0:
        raise ValueError(f"{getattr(mesh, 'name', 'mesh')}: segmenter returned labels of shape {labels.shape} "
                         f"(expected ({len(mesh.faces)},), non-negative)")
    count = int(labels.max()) + 1
    if count < 2:
        return mesh
    return dataclasses.replace(mesh, face_part_ids=labels, part_names=[""] * count, part_classes=[""] * count)
