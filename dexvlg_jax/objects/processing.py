"""Processing of labelled meshes into ProcessedObjects, one at a time or in a fault-tolerant batch.

`process_object(mesh, cfg)`:
  1. validate (ObjectError on degenerate / huge input);
  2. make watertight, labels kept per face (`watertight.make_watertight`: exact repair with manifold3d, else
     generalized-winding-number remeshing at `cfg.remesh_resolution` cells); empty parts dropped;
  3. move to the object frame (origin at the bounding-box centre, z up, metres) and scale: by `cfg.source_scale`
     (metres per file unit: the file's real size kept) when set, else so that the bounding-box diagonal equals
     `cfg.target_diagonal` or a value drawn in `cfg.target_diagonal_range` (default [0.20, 0.50] m, the paper's
     range) from (cfg.seed, object name);
  4. surface samples with normals and part ids (area-weighted, then farthest-point thinned);
  5. coacd convex decomposition, pieces <= 64 vertices, each labelled with a part; a coacd failure (crash or
     exception) is retried with the next of `cfg.coacd_preprocess_modes` (a ProcessingWarning names the retry);
  6. the SDF grid (`geometry.mesh_sdf.build_sdf_grid`; 4 and 6 run while 5 runs in its worker);
  7. per-part oriented frames (centroid, axes, extents) and classes (declared, else `classify_part`).

Crash isolation: the native steps (2, manifold3d / point-cloud-utils; 5, coacd) run in a fresh worker process each
(`isolation.call_isolated`, `cfg.isolate`, on by default) with a time limit (`cfg.native_timeout`), so a segfault
or a hang becomes an ObjectError naming the object and the signal ("convex decomposition (coacd,
preprocess_mode='off') crashed (signal 11, SIGSEGV)") instead of ending the batch. `isolate=False` runs them in this
process (no start-up cost; a native crash then ends the process).

`process_many(items, cfg)` runs that over paths or LabeledMeshes, records every failure as
{"source", "reason"} and carries on; with `cache_dir` each result is cached as <cache_dir>/<name>.npz
(coacd is the slow step, so a cache hit skips it) and reused when the config matches.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import pathlib
import zlib

import numpy as np
import trimesh

from dexvlg_jax.geometry.mesh_sdf import build_sdf_grid
from dexvlg_jax.objects import isolation
from dexvlg_jax.objects.containers import LabeledMesh, ProcessedObject, load_cached_processed, save_processed
from dexvlg_jax.objects.decomposition import DecompositionConfig, convex_decomposition, piece_part_ids, sample_surface
from dexvlg_jax.objects.errors import ObjectError
from dexvlg_jax.objects.mesh_io import MAX_FACES, load_mesh, validate_mesh
from dexvlg_jax.objects.part_classes import class_from_shape, measure_part
from dexvlg_jax.objects.watertight import make_watertight

_PREPROCESS_MODES = ("auto", "on", "off")  # coacd's values
UNIT_METRES = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "in": 0.0254}  # metres per unit of a mesh file (source_scale)
_EXECUTION_ONLY = ("isolate", "native_timeout")  # settings that do not change the result


@dataclasses.dataclass(frozen=True)
class ProcessingConfig:
    """Settings of `process_object`. Lengths in metres.

    grid_resolution: SDF grid nodes along the longest axis (cubic cells); grid_padding: margin around the mesh.
    num_surface_points: surface samples kept (after farthest-point thinning of oversample x as many).
    coacd_threshold / coacd_max_pieces / max_piece_vertices: convex decomposition (see decomposition.py).
    target_diagonal: fixed bounding-box diagonal, or None to draw one in target_diagonal_range.
    source_scale: metres per unit of the input (1e-3 for a file in mm): keeps the real size, overriding both
    target_diagonal settings; None (default) rescales to the target diagonal.
    coacd_preprocess_modes: coacd preprocess modes in the order tried; the first is the normal one, the next ones
    are tried only when coacd crashes or raises (a timeout is not retried). "off" first: the mesh is already
    watertight, and "auto"/"on" remesh it.
    remesh_resolution: grid cells along the longest side when watertightening has to remesh (non-manifold
    input; see watertight.py): the surface moves by up to ~1 cell (longest side / remesh_resolution).
    max_faces: inputs with more faces are refused. seed: drives every random choice.
    isolate: run the native steps (manifold3d, coacd) in a worker process each, so a crash is an ObjectError;
    native_timeout: seconds each such step may take in its worker (None: no limit). Neither changes results, so
    neither is part of the fingerprint.
    """

    grid_resolution: int = 48
    grid_padding: float = 0.03
    num_surface_points: int = 2048
    surface_oversample: int = 4
    coacd_threshold: float = 0.04
    coacd_max_pieces: int = 32
    max_piece_vertices: int = 64
    target_diagonal_range: tuple[float, float] = (0.20, 0.50)
    target_diagonal: float | None = None
    source_scale: float | None = None
    remesh_resolution: int = 96
    max_faces: int = MAX_FACES
    seed: int = 0
    coacd_preprocess_modes: tuple[str, ...] = ("off", "auto", "on")
    isolate: bool = True
    native_timeout: float | None = 900.0

    def __post_init__(self):
        modes = tuple(self.coacd_preprocess_modes)
        if not modes or any(mode not in _PREPROCESS_MODES for mode in modes) or len(set(modes)) != len(modes):
            raise ValueError(f"ProcessingConfig.coacd_preprocess_modes: {modes!r}; use distinct values of "
                             f"{_PREPROCESS_MODES}")
        object.__setattr__(self, "coacd_preprocess_modes", modes)
        if self.source_scale is not None and not (np.isfinite(self.source_scale) and self.source_scale > 0):
            raise ValueError(f"ProcessingConfig.source_scale: {self.source_scale!r}; use metres per unit > 0 or None")
        if self.native_timeout is not None and not self.native_timeout > 0:
            raise ValueError(f"ProcessingConfig.native_timeout: {self.native_timeout!r}; use seconds > 0 or None")

    def fingerprint(self) -> str:
        """Short hash of the settings that change the result (cache key)."""
        settings = {k: v for k, v in dataclasses.asdict(self).items() if k not in _EXECUTION_ONLY}
        return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def target_diagonal_for(name: str, cfg: ProcessingConfig) -> float:
    """Bounding-box diagonal (m) for an object: cfg.target_diagonal, else a seeded draw in the range."""
    if cfg.target_diagonal is not None:
        return float(cfg.target_diagonal)
    low, high = cfg.target_diagonal_range
    rng = np.random.default_rng([int(cfg.seed), zlib.crc32(name.encode())])
    return float(rng.uniform(low, high))


def _drop_empty_parts(face_part_ids, names, classes):
    present = np.unique(face_part_ids)
    remap = np.full(max(len(names), int(present.max()) + 1), -1, np.int64)
    remap[present] = np.arange(len(present))
    return remap[face_part_ids], [names[i] for i in present], [classes[i] for i in present]


def decompose(vertices: np.ndarray, faces: np.ndarray, cfg: ProcessingConfig, source: str) -> list[np.ndarray]:
    """coacd pieces (decomposition.convex_decomposition), one preprocess mode after another until one works.

    Each try runs in a worker when cfg.isolate. A crash or an exception moves on to the next mode (with a
    ProcessingWarning when a later mode succeeds); a timeout ends the object; when every mode fails, the
    ObjectError lists each mode's failure.
    """
    failures = []
    for mode in cfg.coacd_preprocess_modes:
        config = DecompositionConfig(threshold=cfg.coacd_threshold, max_pieces=cfg.coacd_max_pieces,
                                     max_vertices=cfg.max_piece_vertices, seed=cfg.seed, preprocess_mode=mode)
        try:
            pieces = isolation.run_step(convex_decomposition, (vertices, faces, config), source=source,
                                        step=f"convex decomposition (coacd, preprocess_mode={mode!r})",
                                        isolate=cfg.isolate, timeout=cfg.native_timeout)
        except isolation.StepTimedOut:
            raise
        except ObjectError as error:
            failures.append(error.reason)
            continue
        except Exception as error:  # noqa: BLE001 - coacd / qhull failures: try the next mode
            failures.append(f"convex decomposition (coacd, preprocess_mode={mode!r}) failed: "
                            f"{type(error).__name__}: {error}")
            continue
        if failures:
            isolation.warn(source, f"{'; '.join(failures)}; used preprocess_mode={mode!r} instead")
        return pieces
    raise ObjectError(source, "; ".join(failures))


def watertight_mesh(mesh: LabeledMesh, cfg: ProcessingConfig = ProcessingConfig()) -> LabeledMesh:
    """The mesh made watertight (`watertight.make_watertight`, in a worker when cfg.isolate), in its own units,
    labels kept per face and parts left without faces dropped. Raises ObjectError(mesh.name, reason)."""
    source = mesh.name
    validate_mesh(mesh.vertices, mesh.faces, source, cfg.max_faces)
    if len(mesh.face_part_ids) != len(mesh.faces):
        raise ObjectError(source, f"{len(mesh.face_part_ids)} face labels for {len(mesh.faces)} faces")
    vertices, faces, labels = isolation.run_step(
        make_watertight, (np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64),
                          np.asarray(mesh.face_part_ids, np.int64), source, cfg.remesh_resolution),
        source=source, step="watertightening", isolate=cfg.isolate, timeout=cfg.native_timeout)
    labels, part_names, classes = _drop_empty_parts(labels, list(mesh.part_names), list(mesh.part_classes))
    return dataclasses.replace(mesh, vertices=vertices, faces=faces, face_part_ids=labels, part_names=part_names,
                               part_classes=classes)


def process_object(mesh: LabeledMesh, cfg: ProcessingConfig = ProcessingConfig()) -> ProcessedObject:
    """Watertight, rescaled, decomposed, sampled object with its SDF grid (see module docstring)."""
    source = mesh.name
    mesh = watertight_mesh(mesh, cfg)
    vertices, faces, labels = mesh.vertices, mesh.faces, mesh.face_part_ids
    part_names, declared_classes = list(mesh.part_names), list(mesh.part_classes)

    lower, upper = vertices.min(0), vertices.max(0)
    source_center = (lower + upper) / 2.0
    diagonal = float(np.linalg.norm(upper - lower))
    if diagonal <= 0:
        raise ObjectError(source, "degenerate mesh: zero size")
    if cfg.source_scale is not None:
        scale = float(cfg.source_scale)
    else:
        scale = target_diagonal_for(mesh.name, cfg) / diagonal
    vertices = (vertices - source_center) * scale
    object_mesh = trimesh.Trimesh(vertices, faces, process=False)
    if object_mesh.volume <= 0:
        raise ObjectError(source, "cannot be made watertight: the closed mesh has no volume")

    # coacd runs in a worker process (cfg.isolate) that this thread only waits for: the surface samples and the SDF
    # grid are computed meanwhile (the demo's 10 objects: 47 -> 38 s on a 2-core CPU).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(decompose, vertices, faces, cfg, source)
        points, normals, point_parts = sample_surface(object_mesh, labels, cfg.num_surface_points,
                                                      cfg.surface_oversample, cfg.seed)
        sdf = build_sdf_grid(vertices, faces, resolution=cfg.grid_resolution, padding=cfg.grid_padding)
        pieces = pending.result()
    piece_parts = piece_part_ids(pieces, points, point_parts, tolerance=2e-3)

    for label, array in (("surface samples", points), ("SDF grid", sdf.values),
                         ("convex pieces", np.concatenate(pieces))):
        if not np.all(np.isfinite(array)):
            raise ObjectError(source, f"processing produced non-finite {label}")

    centroids, axes, extents, classes = [], [], [], []
    for part_id in range(len(part_names)):
        part_mesh = trimesh.Trimesh(vertices, faces[labels == part_id], process=False)
        shape = measure_part(part_mesh, object_mesh, seed=cfg.seed)
        centroids.append(shape.centroid)
        axes.append(shape.axes)
        extents.append(shape.extents)
        classes.append(declared_classes[part_id] or class_from_shape(shape))

    return ProcessedObject(
        name=mesh.name,
        category=mesh.category,
        vertices=vertices.astype(np.float32),
        faces=faces.astype(np.int32),
        face_part_ids=labels.astype(np.int32),
        scale=float(scale),
        source_center=source_center.astype(np.float64),
        convex_pieces=pieces,
        piece_part_ids=piece_parts.astype(np.int32),
        surface_points=points.astype(np.float32),
        surface_normals=normals.astype(np.float32),
        surface_part_ids=point_parts.astype(np.int32),
        sdf=sdf,
        part_names=part_names,
        part_classes=classes,
        part_centroids=np.asarray(centroids, np.float32),
        part_axes=np.asarray(axes, np.float32),
        part_extents=np.asarray(extents, np.float32),
    )


def _source_of(item) -> str:
    return item.name if isinstance(item, LabeledMesh) else str(item)


def process_many(items, cfg: ProcessingConfig = ProcessingConfig(), progress: bool = True,
                 cache_dir: str | os.PathLike | None = None):
    """Process paths (mesh files, sidecars found automatically) or LabeledMeshes; never stops on bad input.

    Returns (processed objects in input order, failures as [{"source": ..., "reason": ...}]).
    With `cache_dir`, results are read from / written to <cache_dir>/<name>-<source hash>-<config fingerprint>.npz.
    """
    from tqdm.auto import tqdm

    processed, failures = [], []
    cache = pathlib.Path(cache_dir) if cache_dir is not None else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    for item in tqdm(list(items), desc="objects", disable=not progress):
        source = _source_of(item)
        try:
            mesh = item if isinstance(item, LabeledMesh) else load_mesh(item, max_faces=cfg.max_faces)
            cache_path = (cache / f"{mesh.name}-{zlib.crc32(source.encode()):08x}-{cfg.fingerprint()}.npz"
                          if cache is not None else None)
            cached = load_cached_processed(cache_path) if cache_path is not None else None  # corrupt: rebuilt
            if cached is not None:
                processed.append(cached)
                continue
            result = process_object(mesh, cfg)
            if cache_path is not None:
                save_processed(result, cache_path)
            processed.append(result)
        except ObjectError as error:
            failures.append({"source": source, "reason": error.reason})
        except Exception as error:  # an unexpected failure on one object must not end the batch
            failures.append({"source": source, "reason": f"{type(error).__name__}: {error}"})
    return processed, failures
