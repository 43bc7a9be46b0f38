"""Object annotation: the three tasks the paper gives GPT-4o, behind one `Annotator` interface.

1. `filter_quality(obj, views) -> (keep, reason)`: is this a usable, well-formed object?
2. `name_parts(obj, marked_views, marks) -> names`: set-of-marks part naming. Each part is painted in its own colour
   with its mark number (`set_of_marks`: mark = part id + 1) and the annotator names mark by mark.
3. `real_size(obj, views) -> diagonal (m)`: a plausible real-world bounding-box diagonal, inside `size_range`
   (the paper rescales objects to a 20-50 cm diagonal).

`obj` is anything with `vertices (V, 3)`, `faces (F, 3)`, `face_part_ids (F,)`, `part_names`, `part_classes`,
`category` and `name` (LabeledMesh or ProcessedObject). Views are RGB images (H, W, 3) uint8.

Implementations: `HeuristicAnnotator` (offline default, here) and
`dexvlg_jax.data.annotate_http.OpenAICompatibleAnnotator` (any OpenAI-compatible chat endpoint). Both raise
`AnnotationError` (naming the task, the object and the raw answer) so a batch job can record and skip the object.
"""
from __future__ import annotations

import abc
import dataclasses
import zlib
from collections.abc import Sequence

import numpy as np

SIZE_RANGE = (0.20, 0.50)  # metres, bounding-box diagonal (the paper's range)

# Typical real bounding-box diagonals (m) of the library's categories and a few common ones; clipped to SIZE_RANGE.
CATEGORY_DIAGONALS = {
    "mug": 0.20, "bottle": 0.28, "pan": 0.45, "hammer": 0.34, "spray_bottle": 0.28, "kettle": 0.30, "pot": 0.32,
    "knife": 0.30, "screwdriver": 0.25, "bowl": 0.22, "knob_box": 0.28, "flashlight": 0.24, "jar": 0.20,
    "bucket": 0.35, "cup": 0.20, "scissors": 0.22, "teapot": 0.28, "spatula": 0.32, "wrench": 0.26,
}
# Part names for part classes when an object carries no names (class "" = unknown).
CLASS_NAMES = {"L": "handle", "lid": "lid", "shaft": "handle", "disk": "base", "": "part"}


class AnnotationError(RuntimeError):
    """An annotator failed on one task for one object. Attributes: task, object_name, raw (the answer or None)."""

    def __init__(self, task: str, object_name: str, message: str, raw: str | None = None):
        self.task, self.object_name, self.raw = task, object_name, raw
        detail = f"; raw answer: {raw[:500]!r}" if raw is not None else ""
        super().__init__(f"annotator task {task!r} on object {object_name!r}: {message}{detail}")


class Annotator(abc.ABC):
    """The annotation interface (see the module docstring)."""

    size_range: tuple[float, float] = SIZE_RANGE

    @abc.abstractmethod
    def filter_quality(self, obj, views: Sequence[np.ndarray] = ()) -> tuple[bool, str]:
        """(keep, reason): reason is "ok" when kept, else a short explanation."""

    @abc.abstractmethod
    def name_parts(self, obj, marked_views: Sequence[np.ndarray] = (), marks: Sequence[int] | None = None
                   ) -> list[str]:
        """One lower-case part name per mark (default marks = part ids + 1), in `marks` order."""

    @abc.abstractmethod
    def real_size(self, obj, views: Sequence[np.ndarray] = ()) -> float:
        """Plausible real bounding-box diagonal in metres, within `size_range`."""


def default_marks(obj) -> list[int]:
    """Mark numbers of an object's parts: part id + 1."""
    return [i + 1 for i in range(len(obj.part_names))]


def mark_colors(count: int) -> np.ndarray:
    """(count, 3) uint8 distinct, saturated colours (golden-angle hues)."""
    import colorsys

    hues = (np.arange(count) * 0.618033988749895) % 1.0
    return np.array([[int(255 * c) for c in colorsys.hsv_to_rgb(h, 0.85, 0.95)] for h in hues], np.uint8)


def set_of_marks(rgb: np.ndarray, part_mask: np.ndarray, alpha: float = 0.55) -> tuple[np.ndarray, list[int]]:
    """Paint each visible part (part_mask >= 0) in its colour and write its mark number (part id + 1) at the
    part's pixel centroid. rgb (H, W, 3) uint8, part_mask (H, W) int (renderer convention: < 0 = not the object).
    Returns (marked image (H, W, 3) uint8, visible marks sorted)."""
    from PIL import Image, ImageDraw

    rgb, part_mask = np.asarray(rgb, np.uint8), np.asarray(part_mask)
    ids = sorted(int(i) for i in np.unique(part_mask) if i >= 0)
    colors = mark_colors(max(ids, default=-1) + 1).astype(np.float32)
    out = rgb.astype(np.float32)
    for i in ids:
        region = part_mask == i
        out[region] = (1 - alpha) * out[region] + alpha * colors[i]
    image = Image.fromarray(out.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for i in ids:
        rows, cols = np.nonzero(part_mask == i)
        # The part pixel nearest the centroid, so that the number sits on the part even for C-shaped parts.
        k = int(np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2))
        x, y, text = int(cols[k]), int(rows[k]), str(i + 1)
        box = draw.textbbox((x, y), text, anchor="mm")
        draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
        draw.text((x, y), text, fill=(255, 255, 255), anchor="mm")
    return np.asarray(image), [i + 1 for i in ids]


def _trimesh(obj):
    import trimesh

    return trimesh.Trimesh(np.asarray(obj.vertices, np.float64), np.asarray(obj.faces, np.int64), process=False)


FILE_UNITS_M = (1.0, 1e-3, 1e-2, 0.0254)  # the units mesh files come in (m, mm, cm, inch), metres first
# Diagonals (m) a real household object can have, from a lemon to a chair: the file unit is the first that gives one.
# Wider than SIZE_RANGE on purpose: an 8 cm apple saved in centimetres is read as 8 cm (then rescaled into
# SIZE_RANGE), not as 8 inches because only inches land inside the paper's 20-50 cm. The price: an inch file is read
# as centimetres (2.54x too small) whenever that is plausible; inch meshes are the rarer kind (`--units in` reads them).
FILE_UNIT_RANGE = (0.05, 1.0)


def plausible_diagonal(diagonal: float, low: float, high: float) -> float | None:
    """A bounding-box diagonal given in an unknown file unit -> metres: the first of FILE_UNITS_M (metres first)
    that puts it inside [low, high]; None when no unit does (the file carries no usable scale, e.g. a mesh
    normalised to a unit cube). A 148 mm bottle saved in millimetres (148 "metres") is read as 0.148 m, not
    clipped to a 0.5 m giant; a 9 cm lemon saved in metres stays 0.09 m (the caller clips it to its range)."""
    return next((diagonal * unit for unit in FILE_UNITS_M if low <= diagonal * unit <= high), None)


@dataclasses.dataclass
class HeuristicAnnotator(Annotator):
    """Offline annotator: geometric quality filters, names from the library or part class, category-prior sizes.

    Quality filters (reasons name the failed test): finite vertices and valid faces; watertight; non-degenerate
    (positive volume, smallest box side >= `min_thickness_fraction` of the diagonal); part count in
    [1, max_parts]; every part covers >= `min_part_area_fraction` of the surface (no slivers) and none covers
    more than `max_part_area_fraction` when there are several parts (a "part" that is the whole object); face
    count <= max_faces.
    """

    size_range: tuple[float, float] = SIZE_RANGE
    max_parts: int = 8
    min_part_area_fraction: float = 0.002
    max_part_area_fraction: float = 0.995
    min_thickness_fraction: float = 0.01
    max_faces: int = 200_000
    size_jitter: float = 0.1

    def filter_quality(self, obj, views: Sequence[np.ndarray] = ()) -> tuple[bool, str]:
        vertices, faces = np.asarray(obj.vertices), np.asarray(obj.faces)
        if len(vertices) == 0 or len(faces) == 0 or not np.all(np.isfinite(vertices)):
            return False, "empty mesh or non-finite vertices"
        if faces.min() < 0 or faces.max() >= len(vertices):
            return False, "face indices out of range"
        if len(faces) > self.max_faces:
            return False, f"too many faces ({len(faces)} > {self.max_faces})"
        mesh = _trimesh(obj)
        if not mesh.is_watertight:
            return False, "not watertight"
        extents = vertices.max(0) - vertices.min(0)
        diagonal = float(np.linalg.norm(extents))
        if diagonal <= 0 or mesh.volume <= 0 or extents.min() < self.min_thickness_fraction * diagonal:
            return False, f"degenerate (extents {np.round(extents, 4).tolist()}, volume {mesh.volume:.3g})"
        num_parts = len(obj.part_names)
        if not 1 <= num_parts <= self.max_parts:
            return False, f"part count {num_parts} outside [1, {self.max_parts}]"
        part_ids = np.asarray(obj.face_part_ids)
        if part_ids.shape != (len(faces),) or part_ids.min() < 0 or part_ids.max() >= num_parts:
            return False, "face_part_ids do not match the faces / part names"
        fractions = np.bincount(part_ids, weights=mesh.area_faces, minlength=num_parts) / mesh.area
        if fractions.min() < self.min_part_area_fraction:
            return False, f"part {int(fractions.argmin())} is a sliver ({fractions.min():.4f} of the surface)"
        if num_parts > 1 and fractions.max() > self.max_part_area_fraction:
            return False, f"part {int(fractions.argmax())} covers {fractions.max():.4f} of the surface"
        return True, "ok"

    def name_parts(self, obj, marked_views: Sequence[np.ndarray] = (), marks: Sequence[int] | None = None
                   ) -> list[str]:
        marks = default_marks(obj) if marks is None else list(marks)
        names = list(obj.part_names)
        if any(not 1 <= m <= len(names) for m in marks):
            raise AnnotationError("name_parts", obj.name, f"marks {marks} outside 1..{len(names)}")
        if all(str(n).strip() for n in names):
            return [str(names[m - 1]).strip().lower() for m in marks]
        return [self._class_names(obj)[m - 1] for m in marks]

    def _class_names(self, obj) -> list[str]:
        """Names for unnamed parts: the largest part is "body"; others from their class; duplicates ordered by
        height ("upper handle" / "lower handle", or "handle 1", "handle 2", ... beyond two)."""
        mesh = _trimesh(obj)
        part_ids = np.asarray(obj.face_part_ids)
        count = len(obj.part_names)
        areas = np.bincount(part_ids, weights=mesh.area_faces, minlength=count)
        classes = list(getattr(obj, "part_classes", [""] * count)) + [""] * count
        names = [str(n).strip().lower() or CLASS_NAMES.get(classes[i], "part") for i, n in enumerate(obj.part_names)]
        if not str(obj.part_names[int(areas.argmax())]).strip():
            names[int(areas.argmax())] = "body"
        heights = np.array([mesh.triangles_center[part_ids == i, 2].mean() if areas[i] > 0 else 0.0
                            for i in range(count)])
        for name in set(names):
            same = [i for i in range(count) if names[i] == name]
            if len(same) < 2:
                continue
            same.sort(key=lambda i: -heights[i])
            labels = ["upper", "lower"] if len(same) == 2 else None
            for rank, i in enumerate(same):
                names[i] = f"{labels[rank]} {name}" if labels else f"{name} {rank + 1}"
        return names

    def real_size(self, obj, views: Sequence[np.ndarray] = ()) -> float:
        """Category prior (or, for unknown categories, the mesh's own diagonal in the file unit that makes it
        a plausible household object: `plausible_diagonal` with FILE_UNIT_RANGE; without one, the median category
        prior), times a deterministic per-object jitter of +-size_jitter, clipped to
        size_range."""
        low, high = self.size_range
        prior = CATEGORY_DIAGONALS.get(str(obj.category))
        if prior is None:
            vertices = np.asarray(obj.vertices)
            diagonal = float(np.linalg.norm(vertices.max(0) - vertices.min(0)))
            if not np.isfinite(diagonal) or diagonal <= 0:
                raise AnnotationError("real_size", obj.name, "mesh has no extent")
            prior = plausible_diagonal(diagonal, *FILE_UNIT_RANGE)
            if prior is None:  # no usable scale in the file: the typical size of the library's categories
                prior = float(np.median(list(CATEGORY_DIAGONALS.values())))
        u = zlib.crc32(f"size:{obj.name}".encode()) / 2.0**32
        return float(np.clip(prior * (1 + self.size_jitter * (2 * u - 1)), low, high))
