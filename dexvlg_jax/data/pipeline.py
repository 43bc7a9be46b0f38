"""The data engine end to end: objects -> process -> annotate -> place on the table -> synthesise -> sim filter ->
render -> records.

One tabletop world: each object is placed once (`scene.place_object`, seeded by the object id) and that
`Tabletop` drives synthesis (approaches from above, hand-table energy and filter), the simulation filter (the
tabletop-lift protocol the model is judged by, in the same placed scene; six-direction optional) and the renders.
The placement is stored with the grasps (`tabletop` in the grasp file) and in the manifest (`objects`).

`build_dataset(cfg, out_dir, shard=(i, n))` writes, under `out_dir`:

    <split>-<k>.array_record (+ .summary.json)   complete shards (see `data.writer`), manifest.json
    cache/objects/<object_id>.npz                processed objects (`objects.save_processed`)
    cache/grasps/<object_id>.npz                 synthesised grasps (`grasp.io`), plus `sim_success`/`sim_reason`
                                                 (all filters), `sim_<protocol>_success`/`_reason` per filter and
                                                 `sim_on_part`; `q1_low`/`q1_waived`, `contacts_low`/
                                                 `contacts_waived` with the waivers (`data.synthesis`)
    statistics.json, statistics/*.png            counts per category / part / mode, metric histograms

Every stage's output per object is cached atomically (temp file + rename), and a shard is committed only when
complete, so killing the build at any moment and re-running it loses no finished work and duplicates nothing.
Work is split over hosts by shard: `shard=(jax.process_index(), jax.process_count())` on a pod, or `--shard i/n`.
A failing object (annotation, processing, synthesis, simulation) is recorded in its shard's failures with its
stage and reason; the build goes on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zlib

import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from dexvlg_jax import atomic_io
from dexvlg_jax import objects as objects_lib
from dexvlg_jax.cli_errors import RunError
from dexvlg_jax import render
from dexvlg_jax.data import annotate, instructions, segment, writer
from dexvlg_jax.data.build_state import BuildState, failure_record
from dexvlg_jax.data.shards import plan_shards, shard_of_work
from dexvlg_jax.data.splits import assign_splits
from dexvlg_jax.data.schema import GraspRecord, transform_pose
from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.data.synthesis import kept_mask, synthesize_cached
from dexvlg_jax.grasp.synthesize import SynthConfig
from dexvlg_jax.objects.mesh_io import MESH_SUFFIXES
from dexvlg_jax.scene import (FRAMINGS, Tabletop, TabletopConfig, camera_azimuths, camera_eyes, object_framing,
                              place_object)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """What to build. Objects: the embedded library (`categories` x `instances_per_category`) or `mesh_folder`
    (OBJ/GLB/STL/PLY + optional `<mesh>.parts.json` sidecars). Images are `image_size` square, `views_per_object`
    tabletop views per object; each passing grasp becomes one record per view (up to `max_grasps_per_part_mode`
    grasps per part and mode), or with `grasps_per_view` = k > 0 each view keeps the k of them per part and mode
    whose palm faces that camera most: the hand between camera and object, a nearly single-valued target per
    observation instead of every grasp around the object (`facing_grasps`). `tabletop`: how objects are placed
    (upright with a yaw, or trimesh's stable poses: the paper's "placed stably"), their mass and friction.
    `sim_protocols`: the simulation filters a grasp must pass (all of them) when `sim_filter` is on;
    "tabletop_lift" is the protocol evaluation uses.
    `topup_rounds`: extra synthesis rounds for each (part, mode) with at least `topup_min_kept` but fewer than
    `topup_target` kept grasps (`topup_explore`: also those the part rule keeps fewer for, explored along the part's
    surface normals instead); `q1_waiver_below` > 0: a (part, mode) with fewer kept grasps that pass the Q1 screen
    also keeps the ones that failed only Q1 and lift the object in simulation; `contact_waiver_below` > 0: a (part,
    mode) with fewer kept grasps that pass both screens (touching contacts, Q1) also keeps the ones that failed only
    those screens and lift the object with the instructed part holding most of the hand's contacts
    (`data.synthesis`)."""

    categories: tuple = ()
    instances_per_category: int = 2
    mesh_folder: str = ""
    seed: int = 0
    processing: objects_lib.ProcessingConfig = objects_lib.ProcessingConfig()
    synth: SynthConfig = SynthConfig()
    sim_filter: bool = True
    sim_protocols: tuple = ("tabletop_lift",)
    sim_backend: str = "c"
    topup_rounds: int = 0
    topup_target: int = 4
    topup_min_kept: int = 1
    topup_explore: bool = False
    q1_waiver_below: int = 0
    contact_waiver_below: int = 0
    views_per_object: int = 2
    image_size: int = 224
    tabletop: TabletopConfig = TabletopConfig()
    fov_y_deg: float = render.DEFAULT_FOV_Y_DEG
    camera_framing: str = "object"
    framing_margin: float = 1.15
    max_grasps_per_part_mode: int = 8
    grasps_per_view: int = 0
    objects_per_shard: int = 4
    unseen_categories: tuple = ()
    unseen_category_fraction: float = 0.2
    unseen_instance_fraction: float = 0.1
    test_seen_fraction: float = 0.1


# ---------------------------------------------------------------------------------------------------- objects
def _file_fingerprint(*paths: str) -> str:
    digest = hashlib.sha1()
    for path in paths:
        if os.path.exists(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def collect_objects(cfg: DatasetConfig) -> tuple[dict, list, dict]:
    """{object_id: LabeledMesh} of the configured objects, failure records of inputs that did not load, and
    {object_id: fingerprint} of every input (file content for meshes, category + seed for embedded objects): work
    is keyed by identity and content, so a fixed or replaced mesh is rebuilt and nothing else is."""
    found, failures, fingerprints = {}, [], {}
    if cfg.mesh_folder:
        names = sorted(f for f in os.listdir(cfg.mesh_folder) if f.lower().endswith(MESH_SUFFIXES))
        if not names:
            raise ValueError(f"mesh_folder {cfg.mesh_folder!r}: no {'/'.join(MESH_SUFFIXES)} files in it")
        for name in names:
            path = os.path.join(cfg.mesh_folder, name)
            stem = os.path.splitext(name)[0]
            sidecar = os.path.join(cfg.mesh_folder, stem + ".parts.json")
            fingerprints[stem] = _file_fingerprint(path, sidecar)
            try:
                found[stem] = objects_lib.load_mesh(path, sidecar if os.path.exists(sidecar) else None)
            except objects_lib.ObjectError as err:
                failures.append({"object_id": stem, "stage": "load", "reason": str(err), "permanent": True})
        return found, failures, fingerprints
    categories = cfg.categories or objects_lib.CATEGORIES
    unknown = [c for c in categories if c not in objects_lib.CATEGORIES]
    if unknown:
        raise ValueError(f"categories: unknown {unknown}; the library has {list(objects_lib.CATEGORIES)}")
    for category in categories:
        for i in range(cfg.instances_per_category):
            found[f"{category}_{i}"] = objects_lib.make_object(category, cfg.seed * 1000 + i)
            fingerprints[f"{category}_{i}"] = f"{category}:{cfg.seed * 1000 + i}"
    return found, failures, fingerprints


def prepare(mesh, processing: objects_lib.ProcessingConfig, annotator: annotate.Annotator,
            source: str = "", *, units: str | None = None, size_m: float | None = None) -> objects_lib.ProcessedObject:
    """The one object path of every entry point (data engine, synthesis CLI, notebooks): watertight (so that open,
    non-manifold or overlapping input reaches the quality filter repaired) -> segment (if unlabeled) -> annotate
    (quality filter, part names, real size) -> process (convex pieces, scale, SDF; its watertight step is then a
    no-op repair).

    Scale, first that applies: `units` (the file's unit, a key of `objects.UNIT_METRES`: the real size is kept),
    `size_m` (the longest bounding-box side in metres), else the annotator's real-size estimate (bounding-box
    diagonal). Raises ObjectError(source or mesh.name, reason) for rejected or unprocessable input, including a
    real size outside [5 mm, 5 m] (a wrong unit)."""
    name = source or mesh.name
    if units is not None and size_m is not None:
        raise ValueError("prepare: give units or size_m, not both")
    if units is not None and units not in objects_lib.UNIT_METRES:
        raise ValueError(f"prepare: units {units!r}; use one of {sorted(objects_lib.UNIT_METRES)}")
    if size_m is not None and not (np.isfinite(size_m) and size_m > 0):
        raise ValueError(f"prepare: size_m {size_m!r}; use metres > 0")
    mesh = segment.ensure_parts(objects_lib.watertight_mesh(mesh, processing))
    keep, reason = annotator.filter_quality(mesh)
    if not keep:
        raise objects_lib.ObjectError(name, f"rejected by the quality filter: {reason}")
    mesh = dataclasses.replace(mesh, part_names=list(annotator.name_parts(mesh)))
    used = np.asarray(mesh.vertices, np.float64)[np.unique(np.asarray(mesh.faces))]
    extents = np.ptp(used, axis=0)
    if units is not None or size_m is not None:
        scale = objects_lib.UNIT_METRES[units] if units is not None else size_m / float(extents.max())
        diagonal = float(np.linalg.norm(extents)) * scale
        if not 0.005 <= diagonal <= 5.0:
            given = f"units={units!r}" if units is not None else f"size_m={size_m!r}"
            raise objects_lib.ObjectError(name, f"with {given} the object is {diagonal:.4g} m across (bounding-box "
                                                "diagonal), outside [0.005, 5] m: is that the file's unit?")
        return objects_lib.process_object(mesh, dataclasses.replace(processing, source_scale=scale))
    if processing.source_scale is not None:  # configured: the file's real size
        return objects_lib.process_object(mesh, processing)
    size = annotator.real_size(mesh)
    return objects_lib.process_object(mesh, dataclasses.replace(processing, target_diagonal=size))


def prepare_object(object_id: str, mesh, cfg: DatasetConfig, cache_dir: str,
                   annotator: annotate.Annotator) -> objects_lib.ProcessedObject:
    """`prepare` one object of the dataset, cached under cache_dir/objects/<object_id>.npz."""
    path = os.path.join(cache_dir, "objects", f"{object_id}.npz")
    cached = objects_lib.load_cached_processed(path)  # a corrupt cache file is named, moved aside and rebuilt
    if cached is not None:
        return cached
    processed = prepare(mesh, cfg.processing, annotator, source=object_id)
    objects_lib.save_processed(processed, path)  # atomic (temp + rename)
    return processed


def object_tabletop(object_id: str, obj, cfg: DatasetConfig) -> Tabletop:
    """The object's one placement on the table (seeded by the dataset seed and the object id)."""
    return place_object(obj, np.random.default_rng([cfg.seed, zlib.crc32(object_id.encode()), 1]), cfg.tabletop)


# ---------------------------------------------------------------------------------------------------- records
def select_grasps(grasps: dict, max_per_part_mode: int) -> np.ndarray:
    """Indices of passing grasps (valid and sim-successful), at most `max_per_part_mode` per (part, mode),
    lowest energy first."""
    ok = kept_mask(grasps)
    chosen = []
    for part in np.unique(grasps["part_id"][ok]):
        for mode in np.unique(grasps["mode"][ok]):
            idx = np.flatnonzero(ok & (grasps["part_id"] == part) & (grasps["mode"] == mode))
            chosen.extend(idx[np.argsort(grasps["energy"][idx])][:max_per_part_mode])
    return np.array(sorted(chosen), int)


def render_views(obj, tabletop: Tabletop, cfg: DatasetConfig, rng: np.random.Generator):
    """Render `views_per_object` views of the placed object from the tabletop rig at random azimuths, framed by
    `cfg.camera_framing` (`scene.cameras`: "object" aims at the object and zooms to its bounding sphere times
    `cfg.framing_margin`; "table" aims at the table centre with `cfg.fov_y_deg`).
    Returns (K (3, 3), extrinsics (V, 4, 4) world -> camera, RenderOutput with (V, H, W) images)."""
    if cfg.camera_framing not in FRAMINGS:
        raise ValueError(f"DatasetConfig.camera_framing must be one of {FRAMINGS}, got {cfg.camera_framing!r}")
    scene = render.build_scene(obj.vertices, obj.faces, obj.face_part_ids, tabletop.object_to_world,
                               num_faces=-(-(len(obj.faces) + 12) // 1024) * 1024)  # few compiled shapes
    size = cfg.image_size
    eyes = camera_eyes(camera_azimuths(rng, cfg.views_per_object))
    target, fov_y_deg = np.zeros(3), cfg.fov_y_deg
    if cfg.camera_framing == "object":
        target, fov_y_deg = object_framing(tabletop.object_to_world, obj.vertices, eyes, cfg.framing_margin)
    intrinsics = np.asarray(render.intrinsics_from_fov(fov_y_deg, size, size))
    extrinsics = np.stack([np.asarray(render.look_at(eye, target)) for eye in eyes.astype(np.float32)])
    out = render.render_views(scene, jnp.tile(jnp.asarray(intrinsics)[None], (len(eyes), 1, 1)),
                              jnp.asarray(extrinsics), height=size, width=size)
    return intrinsics, extrinsics, out


def facing_grasps(poses_camera: np.ndarray, part_ids: np.ndarray, modes: np.ndarray, per_view: int) -> np.ndarray:
    """Indices of the `per_view` grasps per (part, mode) whose palm faces along the optical axis most (the hand
    between the camera and the object: palm normal -R[:, 2] (the palm faces its -z) dotted with the camera's +z),
    for one view; poses_camera (G, 25) in that camera's frame. Sorted indices."""
    facing = -np.asarray(HandPose.from_vector(np.asarray(poses_camera, np.float64)).rotation)[:, 2, 2]
    keep = []
    for key in sorted(set(zip(part_ids.tolist(), modes.tolist()))):
        idx = np.flatnonzero((part_ids == key[0]) & (modes == key[1]))
        keep.extend(idx[np.argsort(-facing[idx], kind="stable")][:per_view])
    return np.array(sorted(keep), int)


def records_rng(seed: int, object_id: str) -> np.random.Generator:
    """The per-object stream of the records (camera azimuths of the renders), from the dataset seed."""
    return np.random.default_rng([seed, zlib.crc32(object_id.encode())])


def object_records(object_id: str, split: str, obj, grasps: dict, cfg: DatasetConfig):
    """Yield the GraspRecords of one object: the selected grasps in every rendered view (all of them, or with
    `cfg.grasps_per_view` > 0 the ones that face that camera most per part and mode, `facing_grasps`)."""
    chosen = select_grasps(grasps, cfg.max_grasps_per_part_mode)
    if len(chosen) == 0:
        return
    rng = records_rng(cfg.seed, object_id)
    tabletop = Tabletop.from_json(str(grasps["tabletop"])) if str(grasps.get("tabletop", "")) else \
        object_tabletop(object_id, obj, cfg)
    object_to_world = tabletop.object_to_world
    intrinsics, extrinsics, out = render_views(obj, tabletop, cfg, rng)
    rgb = np.asarray(np.round(np.asarray(out.rgb) * 255), np.uint8)
    depth, mask = np.asarray(out.depth, np.float32), np.asarray(out.part_mask, np.int32)
    template_split = "eval" if split.startswith("test") else "train"
    for view in range(len(extrinsics)):
        object_to_camera = extrinsics[view] @ object_to_world
        poses_camera = np.stack([transform_pose(np.asarray(grasps["poses"][g], np.float32), object_to_camera)
                                 for g in chosen])
        in_view = np.arange(len(chosen))
        if cfg.grasps_per_view > 0:
            in_view = facing_grasps(poses_camera, np.asarray(grasps["part_id"])[chosen],
                                    np.asarray(grasps["mode"]).astype(str)[chosen], cfg.grasps_per_view)
        for k in in_view:
            g = chosen[k]
            part, mode = int(grasps["part_id"][g]), str(grasps["mode"][g])
            part_name = obj.part_names[part]
            seed = instructions.instruction_seed(object_id, part, mode, int(g), view, cfg.seed)
            text = instructions.sample_instruction(instructions.object_noun(obj.category), part_name, mode, seed,
                                                   split=template_split)
            pose_object = np.asarray(grasps["poses"][g], np.float32)
            yield GraspRecord(
                object_id=object_id, category=obj.category, split=split, part_id=part, part_name=part_name,
                mode=mode, instruction=text, grasp_index=int(g), view_index=view,
                pose_camera=poses_camera[k].astype(np.float32),
                pose_object=pose_object, object_to_camera=object_to_camera.astype(np.float32),
                penetration_mm=float(grasps["pen_mm"][g]), self_penetration_mm=float(grasps["spen_mm"][g]),
                q1=float(grasps["q1"][g]), sim_success=bool(grasps["sim_success"][g]),
                rgb=rgb[view], depth=depth[view], part_mask=mask[view],
                intrinsics=intrinsics.astype(np.float32), extrinsics=extrinsics[view].astype(np.float32))


# ---------------------------------------------------------------------------------------------------- build
def build_dataset(cfg: DatasetConfig, out_dir: str, shard: tuple[int, int] = (0, 1), progress: bool = True,
                  annotator: annotate.Annotator | None = None) -> dict:
    """Build (or resume) this host's share of the dataset; returns the manifest (rebuilt from all done shards)."""
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard: need 0 <= index < count, got {index}/{count}")
    annotator = annotator or annotate.HeuristicAnnotator()
    cache_dir = os.path.join(out_dir, "cache")
    for sub in ("objects", "grasps"):
        os.makedirs(os.path.join(cache_dir, sub), exist_ok=True)
    for folder in (out_dir, os.path.join(cache_dir, "objects"), os.path.join(cache_dir, "grasps")):
        atomic_io.remove_dead_temps(folder)  # left by a killed run of this host
    meshes, load_failures, fingerprints = collect_objects(cfg)
    state = BuildState(out_dir, shard)
    state.invalidate_changed(fingerprints, cache_dir)
    for failure in load_failures:
        state.record_failure(failure, fingerprints[failure["object_id"]])
    categories = {oid: m.category for oid, m in meshes.items()}
    splits = assign_splits(categories, cfg.seed, cfg.unseen_category_fraction, cfg.unseen_instance_fraction,
                                  cfg.test_seen_fraction, unseen_categories=cfg.unseen_categories or None)
    specs = plan_shards(splits, cfg.objects_per_shard)
    out = writer.DatasetWriter(out_dir, config=config_dict(cfg))
    if (index, count) == (0, 1):
        state.remove_unplanned_shards(out, specs)
    mine = shard_of_work(specs, index, count)
    todo = [s for s in mine if not state.shard_done(out, s, fingerprints)]
    bar = tqdm(total=sum(len(s.object_ids) for s in todo), desc=f"dataset {index}/{count}", unit="object",
               disable=not progress)
    for spec in todo:
        failures = []
        out.write_shard(spec, _shard_records(spec, meshes, cfg, cache_dir, annotator, failures, bar, state,
                                             fingerprints), failures)
        state.commit_shard(spec, fingerprints, failures)
    bar.close()
    return out.update_manifest(extra={"splits": splits, "objects": _object_table(cache_dir, splits),
                                      "failures": state.failure_list()})


def _object_table(cache_dir: str, splits: dict) -> dict:
    """{object_id: {"split", "tabletop" (the Tabletop JSON its grasps were made for)}} of every synthesised
    object, so that evaluation rebuilds the same objects, placements and splits."""
    table = {}
    for object_id, split in sorted(splits.items()):
        path = os.path.join(cache_dir, "grasps", f"{object_id}.npz")
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as f:
                tabletop = str(f["tabletop"]) if "tabletop" in f.files else ""
            table[object_id] = {"split": split, "tabletop": json.loads(tabletop) if tabletop else None}
    return table


def _shard_records(spec, meshes, cfg, cache_dir, annotator, failures, bar, state, fingerprints):
    """The records of one shard's objects; failures are appended to `failures` and kept in `state`: bad input
    (ObjectError, ValueError, FloatingPointError) is permanent, an annotator error is transient (retried next run),
    and an OSError (disk full, unreadable output) stops the run with the path: it is not bad input."""
    for object_id in spec.object_ids:
        bar.update(1)
        known = state.permanent_failure(object_id, fingerprints.get(object_id))
        if known is not None or object_id not in meshes:
            failures.append(known or {"object_id": object_id, "stage": "load", "reason": "did not load",
                                      "permanent": True})
            continue
        stage = "process"
        try:
            obj = prepare_object(object_id, meshes[object_id], cfg, cache_dir, annotator)
            stage = "synthesize"
            grasps = synthesize_cached(object_id, obj, cfg, cache_dir, object_tabletop(object_id, obj, cfg))
            stage = "render"
            yield from object_records(object_id, spec.split, obj, grasps, cfg)
            state.clear_failure(object_id)
        except (objects_lib.ObjectError, annotate.AnnotationError, ValueError, FloatingPointError) as err:
            failure = failure_record(object_id, stage, err)
            failures.append(failure)
            state.record_failure(failure, fingerprints.get(object_id))
        except OSError as err:
            raise RunError(f"data engine stopped on object {object_id} ({stage}): {err}") from err


def config_dict(cfg: DatasetConfig) -> dict:
    """The config as JSON-able values (the manifest's "config"; nested dataclasses as dicts)."""
    def clean(x):
        if dataclasses.is_dataclass(x):
            return {f.name: clean(getattr(x, f.name)) for f in dataclasses.fields(x)}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x if isinstance(x, (int, float, str, bool, type(None))) else repr(x)

    return clean(cfg)
