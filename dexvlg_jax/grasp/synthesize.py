"""The per-object synthesis driver: part-aligned init -> optimise -> metrics -> filter.

For every mode in the config and every part of the object: check the part (`feasibility.part_failure`: missing,
unknown class, too small, too big, non-finite), draw `num_per_part` part-aligned poses (with `fill_batch`, as
many as fill the last padded optimiser batch, which is computed anyway), optimise all of one mode's poses together
in fixed-size sharded batches (one compilation for every object and both modes: each pose's contact set is passed
as data, `energy.contact_set`; optionally palm-free for a lid-class pinch), compute the metrics and mark each grasp
"ok" or with its failure reason. A part that cannot be grasped yields one NaN row with the reason; nothing is
silently dropped, and nothing raises for bad geometry (the caller's run continues).
"""
from __future__ import annotations

import dataclasses
import json
import time

import jax
import numpy as np

from dexvlg_jax import hand
from dexvlg_jax.devices import data_mesh
from dexvlg_jax.grasp.energy import TERMS, EnergyConfig, stacked_contact_sets, synth_object
from dexvlg_jax.grasp.feasibility import part_failure
from dexvlg_jax.grasp.init import InitConfig, initial_poses
from dexvlg_jax.grasp.metrics import METRICS_VERSION, OK, FilterConfig, failure_reasons, grasp_metrics
from dexvlg_jax.grasp.optimizer import OptimizerConfig, optimize_sharded
from dexvlg_jax.hand.constants import MODES


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """Everything one synthesis run needs (the mode inside `energy` is not read: each mode of `modes` passes its
    contact set to the optimiser as data, `energy.contact_set`, so both modes share one compiled program)."""

    init: InitConfig = InitConfig()
    energy: EnergyConfig = EnergyConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    filter: FilterConfig = FilterConfig()
    modes: tuple = MODES
    batch_size: int = 256  # grasps per optimiser call (padded): fixed shapes, one compilation
    # Part classes whose pinch leaves the palm out of the energy, e.g. ("lid",): a knob, cap or lid sits on another
    # part, and the palm pulled onto it lands there. Off by default: it covers the learning build's knobs, but the
    # demo's model trained on its data lifted fewer trials (grasp/NOTES.md).
    palm_free_pinch_classes: tuple = ()
    # Draw as many poses per part as fill the optimiser's last padded batch (at least init.num_per_part): the
    # padding rows cost as much as real ones. With 32 poses per part and batches of 64, an object with one or three
    # graspable parts gets 64 or 42 poses per part for the same optimiser batches. Off by default: on the demo it kept
    # 14% more grasps and covered no more conditions, and the demo's model trained on them lifted fewer trials
    # (grasp/NOTES.md, "Filling the batch"). Top-up rounds always fill.
    fill_batch: bool = False
    num_object_points: int = 2048
    grid_shape: tuple = (52, 52, 52)
    seed: int = 0


def _optimize_all(poses, parts, sobj, ecfg, ocfg, batch_size, rng, mesh, contacts):
    """Optimise (M, 25) poses for their target parts (M,) with their contact sets (`contacts`: (M, ...) per pose,
    `energy.stacked_contact_sets`) in padded chunks of batch_size; returns poses, energies, terms, acceptance."""
    outs = []
    for start in range(0, len(poses), batch_size):
        chunk = poses[start:start + batch_size]
        pad = batch_size - len(chunk)
        chunk = np.concatenate([chunk, np.repeat(chunk[:1], pad, 0)])
        targets = np.resize(parts[start:start + batch_size], batch_size)
        sets = jax.tree.map(lambda a: np.resize(a[start:start + batch_size], (batch_size,) + a.shape[1:]), contacts)
        out = optimize_sharded(chunk, rng, sobj, ecfg, ocfg, mesh=mesh, offset=start, parts=targets, contacts=sets)
        outs.append(jax.tree.map(lambda a: np.asarray(a)[:batch_size - pad], out))
    return jax.tree.map(lambda *a: np.concatenate(a), *outs)


def poses_per_part(num_parts: int, cfg: SynthConfig) -> int:
    """Poses drawn per (part, mode) when `num_parts` parts are grasped in one mode: `init.num_per_part`, or with
    `fill_batch` the most that fit in the same number of padded `batch_size` batches (num_parts * n <= batches *
    batch_size)."""
    n = cfg.init.num_per_part
    if not cfg.fill_batch or num_parts == 0:
        return n
    batches = -(-num_parts * n // cfg.batch_size)
    return max(n, batches * cfg.batch_size // num_parts)


def synthesize_object(obj, cfg: SynthConfig = SynthConfig(), object_ref: str = "", part_ids=None,
                      mesh=None, tabletop=None) -> tuple[dict, dict]:
    """Synthesise grasps for one ProcessedObject. Returns (arrays, meta) in the `grasp.io` file format.

    part_ids: parts to grasp (default: all); ids outside the object are recorded as "missing_part".
    tabletop: the `scene.Tabletop` the object rests on: approaches from above the table, the hand-table energy
    and filter (stored with the grasps as `tabletop`, JSON). None: the object floats (no table).
    """
    t0 = time.time()
    part_ids = list(range(obj.num_parts)) if part_ids is None else list(part_ids)
    sobj = synth_object(obj, cfg.num_object_points, cfg.grid_shape, tabletop)
    table_plane = None if tabletop is None else tabletop.table_plane()
    mesh = data_mesh() if mesh is None else mesh
    rows = {k: [] for k in ("poses", "init_poses", "mode", "part_id", "status", "energy", "accept_rate")}
    terms_rows = {t: [] for t in TERMS}
    reasons = {part: part_failure(obj, part, cfg.init, table_plane) for part in part_ids}
    per_part = poses_per_part(sum(r is None for r in reasons.values()), cfg)
    for mode_index, mode in enumerate(cfg.modes):
        inits, labels = [], []
        for part in part_ids:
            reason = reasons[part]
            if reason is not None:
                nan = np.full((1, 25), np.nan, np.float32)
                rows["poses"].append(nan), rows["init_poses"].append(nan)
                rows["mode"].append([mode]), rows["part_id"].append([part]), rows["status"].append([reason])
                rows["energy"].append([np.nan]), rows["accept_rate"].append([np.nan])
                for t in TERMS:
                    terms_rows[t].append([np.nan])
                continue
            rng = np.random.default_rng([cfg.seed, part, mode_index])
            inits.append(initial_poses(obj, part, mode, per_part, rng, cfg.init, table_plane, sobj.sdf))
            labels.append(part)
        if not inits:
            continue
        init = np.concatenate(inits)
        key = jax.random.fold_in(jax.random.PRNGKey(cfg.seed), mode_index)
        part_col = np.repeat(labels, per_part)
        # The contacts travel as data, one padded set per pose (the mode's, palm-free for a pinch of a part of a
        # class in `palm_free_pinch_classes`): both modes and every part share one compiled optimiser.
        sets = stacked_contact_sets(mode, [obj.part_classes[p] in cfg.palm_free_pinch_classes for p in part_col])
        poses, energy, terms, accept = _optimize_all(init, part_col, sobj, cfg.energy, cfg.optimizer, cfg.batch_size,
                                                     key, mesh, sets)
        h = hand.load_hand()  # the hand's position controller clips commands: metrics see the executable pose
        poses = np.concatenate([poses[:, :9], np.clip(poses[:, 9:], h.joint_lower, h.joint_upper)], 1)
        n = len(init)
        rows["poses"].append(poses), rows["init_poses"].append(init)
        rows["mode"].append([mode] * n), rows["part_id"].append(part_col)
        rows["energy"].append(energy), rows["accept_rate"].append(accept)
        rows["status"].append([""] * n)
        for t in TERMS:
            terms_rows[t].append(terms[t])
    arrays = {k: np.concatenate([np.asarray(v) for v in vs]) if vs else np.zeros((0,)) for k, vs in rows.items()}
    if len(arrays["poses"]) == 0:
        arrays["poses"] = arrays["init_poses"] = np.zeros((0, 25), np.float32)
    for t in TERMS:
        arrays[f"e_{t}"] = (np.concatenate([np.asarray(v, np.float32) for v in terms_rows[t]])
                            if terms_rows[t] else np.zeros(0, np.float32))
    modes = arrays["mode"].astype(str)
    pids = arrays["part_id"].astype(np.int32)
    quality = grasp_metrics(arrays["poses"], sobj, obj, modes, pids, cfg.filter) if len(modes) else {}
    status = arrays["status"].astype(object)
    if len(modes):
        computed = failure_reasons(quality, modes, cfg.filter, arrays["energy"].astype(np.float64))
        status = np.where(status == "", computed, status)
    arrays.update(quality)
    arrays["status"] = status.astype(str)
    arrays["valid"] = arrays["status"] == OK
    arrays["part_id"] = pids
    safe = np.clip(pids, 0, max(obj.num_parts - 1, 0))
    known = (pids >= 0) & (pids < obj.num_parts)
    arrays["part_name"] = np.where(known, np.asarray(obj.part_names, dtype=object)[safe], "").astype(str)
    arrays["part_class"] = np.where(known, np.asarray(obj.part_classes, dtype=object)[safe], "").astype(str)
    arrays.update(object=np.array(object_ref), object_name=np.array(obj.name), category=np.array(obj.category),
                  tabletop=np.array("" if tabletop is None else json.dumps(tabletop.to_json())))
    meta = {"config": dataclasses.asdict(cfg), "fc_kind": cfg.energy.fc_kind, "metrics": METRICS_VERSION,
            "seconds": time.time() - t0,
            "num_devices": int(mesh.devices.size), "backend": jax.default_backend()}
    return arrays, meta


def summarize(arrays_list, mode: str | None = None) -> dict:
    """Aggregate numbers over grasp files' arrays: counts, pass rate, means over *valid* grasps (pen_mm,
    hand_pen_mm, spen_mm, q1, part_agreement), failure-reason histogram and force statistics."""
    cat = {k: np.concatenate([np.asarray(a[k]) for a in arrays_list]) for k in
           ("mode", "status", "valid", "pen_mm", "hand_pen_mm", "spen_mm", "q1", "part_agreement", "forces")}
    cat["table_mm"] = np.concatenate([np.asarray(a.get("table_mm", np.zeros(len(a["mode"])))) for a in arrays_list])
    sel = np.ones(len(cat["mode"]), bool) if mode is None else cat["mode"].astype(str) == mode
    valid = sel & cat["valid"].astype(bool)
    out = {"num_grasps": int(sel.sum()), "num_valid": int(valid.sum()),
           "pass_rate": float(valid.sum() / max(sel.sum(), 1))}
    for k in ("pen_mm", "hand_pen_mm", "spen_mm", "table_mm", "q1", "part_agreement"):
        out[f"mean_{k}"] = float(np.mean(cat[k][valid])) if valid.any() else float("nan")
    reasons, counts = np.unique([s.split(":")[0] for s in cat["status"][sel].astype(str)], return_counts=True)
    out["status_counts"] = {str(r): int(c) for r, c in zip(reasons, counts)}
    f = cat["forces"][valid]
    f = f[np.isfinite(f)] if f.size else f
    if f.size:
        out["forces"] = {"mean": float(f.mean()), "std": float(f.std()), "frac_below_0.1": float((f < 0.1).mean()),
                         "frac_at_1": float((f > 0.999).mean())}
    return out
