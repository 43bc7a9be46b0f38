"""The data engine's grasp stage for one placed object: synthesise, simulate in the placed scene, top up, cache.

    grasps = synthesize_cached(object_id, obj, cfg, cache_dir, tabletop)   # cache_dir/grasps/<object_id>.npz

Round 0 is `grasp.synthesize_object` over every part and mode (`cfg.synth.init.num_per_part` poses each), then the
simulation filters (`cfg.sim_protocols`, in the object's own placed scene). A condition (part, mode) is *kept* when
its grasps pass both. Two optional ways to spend more on conditions that end short of grasps (off by default;
measured in grasp/NOTES.md):

* Top-up rounds (`cfg.topup_rounds`): for each condition with at least `cfg.topup_min_kept` but fewer than
  `cfg.topup_target` kept grasps, synthesise more poses with a new seed (`num_per_part`, or more to fill the
  optimiser's padded batch at the same cost). A condition with none kept is not topped up by default: more poses of
  the same initialisation rarely reach it. With `cfg.topup_explore` the rounds also take those, and draw their poses
  by exploration instead of the part's class rule (`grasp.init`, placement "surface": along the normals of random
  samples of the part's surface); a condition whose kept grasps did not come from the rule is explored again. Every
  row records its initialisation ("init_placement"). Each round is appended to the cached file and written
  atomically with the rounds done in its meta (`topup_rounds`), so an interrupted build resumes after the last
  finished round and a build asking for more rounds than a cached file has continues from it.
* The Q1 waiver (`cfg.q1_waiver_below` > 0): synthesis filters without the Q1 screen and marks the grasps that
  failed only Q1 (`q1_low`); they are simulated like the rest and kept (`q1_waived`) only in a condition with fewer
  than `q1_waiver_below` kept grasps that pass Q1, rejected as "low_q1" elsewhere (`apply_waivers`).
* The contact waiver (`cfg.contact_waiver_below` > 0): the two screens that stand in for a simulation, the
  touching-contact count and Q1, give way to the simulation itself in a short condition. Grasps that fail the
  contact count (and maybe Q1) but pass every other check are simulated too; those that lift the object with the
  instructed part holding the majority of the hand's contacts (`sim_on_part`) get the exact penetration checks
  (`contacts_low` when they pass). In a condition with fewer than `contact_waiver_below` kept grasps that pass both
  screens, the `contacts_low` and `q1_low` grasps that lift on the part are kept (`contacts_waived`, `q1_waived`);
  elsewhere they are rejected as "contacts_far" / "low_q1". The kept grasps still lift in the placed scene: the
  evaluation's protocol is the proof that the screens only estimate (so this waiver needs `cfg.sim_filter`).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.grasp.energy import synth_object
from dexvlg_jax.grasp.metrics import OK, failure_reasons, grasp_metrics
from dexvlg_jax.grasp.synthesize import synthesize_object
from dexvlg_jax.hand.constants import MODES
from dexvlg_jax.scene import Tabletop
from dexvlg_jax.sim import evaluate as simulate

SCALAR_FIELDS = ("object", "object_name", "category", "tabletop")
# False for rows of a round without the waivers (they were screened) or without the part check (no evidence)
WAIVER_FLAGS = ("q1_low", "q1_waived", "contacts_low", "contacts_waived", "sim_on_part")
ROUND_SEED_STRIDE = 1000  # round r synthesises with seed cfg.synth.seed + r * stride + mode index
EXPLORE_SEED_OFFSET = 500  # ... + this for the round's exploring calls (`topup_explore`)
ROW_DEFAULTS = {"init_placement": "rule"}  # row fields a file may lack (written before they existed): their value


def simulation_verdicts(obj, poses, valid, tabletop: Tabletop, protocols, backend: str, part_ids=None) -> dict:
    """Run every protocol on the valid poses in the placed scene: {"sim_success", "sim_reason" (first failing
    protocol's reason), "sim_<protocol>_success", "sim_<protocol>_reason"} arrays over all G grasps; with
    part_ids (G,), also "sim_on_part": PGA in every protocol (success, and the instructed part held a strict
    majority of the hand-object contacts at the contact phase: `sim.metrics`)."""
    valid = np.asarray(valid, bool)
    out = {"sim_success": valid.copy(), "sim_reason": np.array(["" if v else "not_simulated" for v in valid],
                                                                dtype=object)}
    if part_ids is not None:
        out["sim_on_part"] = valid.copy()
    for protocol in protocols:
        success, reason = np.zeros(len(valid), bool), np.array(["not_simulated"] * len(valid), dtype=object)
        if valid.any():
            pid = None if part_ids is None else np.asarray(part_ids)[valid]
            result = simulate(obj, np.asarray(poses)[valid], protocol=protocol, backend=backend,
                              tabletops=tabletop, part_ids=pid)
            success[valid], reason[valid] = result.records[0].success, result.records[0].reason
            if part_ids is not None:
                out["sim_on_part"][valid] &= result.per_trial["pga"]
        first_failure = out["sim_success"] & ~success
        out["sim_reason"][first_failure] = [f"{protocol}: {r}" for r in reason[first_failure]]
        out["sim_success"] &= success
        out[f"sim_{protocol}_success"], out[f"sim_{protocol}_reason"] = success, reason.astype(str)
    out["sim_reason"] = out["sim_reason"].astype(str)
    return out


def kept_mask(grasps: dict) -> np.ndarray:
    """(G,) bool: the grasps a dataset keeps, valid and sim-successful (valid alone in a file without verdicts)."""
    return np.asarray(grasps["valid"], bool) & np.asarray(grasps.get("sim_success", grasps["valid"]), bool)


def kept_counts(grasps: dict) -> dict:
    """{(part_id, mode): kept grasps} over every condition that has a row (`kept_mask`)."""
    kept = kept_mask(grasps)
    parts, modes = np.asarray(grasps["part_id"]), np.asarray(grasps["mode"]).astype(str)
    return {(int(p), str(m)): int((kept & (parts == p) & (modes == m)).sum())
            for p, m in sorted(set(zip(parts.tolist(), modes.tolist())))}


def row_field(grasps: dict, key: str) -> np.ndarray:
    """(G,) values of a row field, `ROW_DEFAULTS[key]` on every row of a file written before the field existed."""
    return np.asarray(grasps[key] if key in grasps else np.full(len(grasps["poses"]), ROW_DEFAULTS[key]))


def topup_conditions(grasps: dict, target: int, min_kept: int, explore: bool = False) -> dict:
    """{(mode, placement): [part ids]} to synthesise more of: the conditions with fewer than `target` kept grasps
    of which the part rule's rows kept at least `min_kept` (placement "rule"); with `explore`, every other one with
    fewer than `target` too (placement "surface"). Only conditions whose rows were synthesised: a part rejected by
    rule (e.g. too big) has one NaN row and is never topped up."""
    synthesised = np.all(np.isfinite(np.asarray(grasps["poses"])), axis=1)
    parts, modes = np.asarray(grasps["part_id"]), np.asarray(grasps["mode"]).astype(str)
    by_rule = kept_mask(grasps) & (row_field(grasps, "init_placement").astype(str) == "rule")
    wanted = {}
    for (part, mode), n in kept_counts(grasps).items():
        rows = (parts == part) & (modes == mode)
        if n >= target or not (synthesised & rows).any():
            continue
        if (by_rule & rows).sum() >= min_kept:
            wanted.setdefault((mode, "rule"), []).append(part)
        elif explore:
            wanted.setdefault((mode, "surface"), []).append(part)
    return wanted


def _concatenate(a: dict, b: dict) -> dict:
    """Row-wise union of two grasp dicts of one object: scalar fields from `a`, row fields that both have
    (numpy widens string dtypes as needed); a waiver flag that one side lacks is False on its rows and a row field
    `ROW_DEFAULTS` names has its default, so a cache built without the waiver or exploration and a round with it
    (or the reverse) keep every row's flag and placement."""
    flags = [k for k in WAIVER_FLAGS if k in a or k in b]
    fields = [k for k in ROW_DEFAULTS if k in a or k in b]
    a = {**{k: np.zeros(len(a["poses"]), bool) for k in flags}, **{k: row_field(a, k) for k in fields}, **a}
    b = {**{k: np.zeros(len(b["poses"]), bool) for k in flags}, **{k: row_field(b, k) for k in fields}, **b}
    return {k: a[k] if k in SCALAR_FIELDS else np.concatenate([np.asarray(a[k]), np.asarray(b[k])])
            for k in a if k in b}


def _flag(grasps: dict, key: str) -> np.ndarray:
    return np.asarray(grasps.get(key, np.zeros(len(grasps["poses"]), bool)), bool)


def apply_waivers(grasps: dict, q1_below: int, contact_below: int) -> dict:
    """Decide the grasps that failed only the screens (`q1_low`: Q1; `contacts_low`: the touching-contact count,
    maybe Q1 too), per condition (part, mode), against the kept grasps that pass both screens: with fewer than
    `q1_below`, the `q1_low` ones are kept; with fewer than `contact_below`, the `q1_low` and `contacts_low` ones that
    lift with the instructed part holding the majority of contacts (`sim_on_part`) are kept. Kept ones get status
    "ok" and `q1_waived` / `contacts_waived`; the rest "low_q1" / "contacts_far". Idempotent; re-applied after every
    round, since a top-up can lift a condition over the thresholds. Returns the updated dict."""
    q1_low, c_low = _flag(grasps, "q1_low"), _flag(grasps, "contacts_low")
    low = q1_low | c_low
    parts, modes = np.asarray(grasps["part_id"]), np.asarray(grasps["mode"]).astype(str)
    base_ok = (np.asarray(grasps["status"]) == OK) | low
    sim_ok = np.asarray(grasps.get("sim_success", base_ok), bool)
    screened_kept = base_ok & ~low & sim_ok
    on_part = sim_ok & _flag(grasps, "sim_on_part")
    waived = np.zeros(len(low), bool)
    for part, mode in set(zip(parts[low].tolist(), modes[low].tolist())):
        rows = (parts == part) & (modes == mode)
        short = (screened_kept & rows).sum()
        if short < q1_below:
            waived |= q1_low & rows
        if short < contact_below:
            waived |= low & on_part & rows
    status = np.where(c_low & ~waived, "contacts_far", np.asarray(grasps["status"]).astype(object))
    status = np.where(q1_low & ~waived, "low_q1", status)
    status[waived] = OK
    return dict(grasps, status=status.astype(str), valid=base_ok & (~low | waived), q1_waived=waived & q1_low,
                contacts_waived=waived & c_low)


def _one_contact_is_enough(filter_cfg):
    return dataclasses.replace(filter_cfg, min_contacts_wrap=1, min_contacts_pinch=1)


def contact_candidates(arrays: dict, filter_cfg) -> np.ndarray:
    """(G,) bool: rows that failed the touching-contact count but pass every other check of `filter_cfg` (the
    filter synthesis used), with at least one contact touching; their penetration is not measured yet (NaN passes)."""
    modes = np.asarray(arrays["mode"]).astype(str)
    return (np.asarray(arrays["status"]) == "contacts_far") & \
        (failure_reasons(arrays, modes, _one_contact_is_enough(filter_cfg)) == OK)


def _measure_contact_waivable(obj, arrays: dict, lifted: np.ndarray, synth, tabletop: Tabletop) -> np.ndarray:
    """Exact metrics of the `lifted` contact candidates (written into `arrays`); (G,) bool: they pass every check
    of the round's filter `synth.filter` (Q1 off) but the contact count."""
    out = np.zeros(len(lifted), bool)
    if not lifted.any():
        return out
    relaxed = _one_contact_is_enough(synth.filter)
    sobj = synth_object(obj, synth.num_object_points, synth.grid_shape, tabletop)
    modes = np.asarray(arrays["mode"]).astype(str)[lifted]
    m = grasp_metrics(np.asarray(arrays["poses"])[lifted], sobj, obj, modes,
                      np.asarray(arrays["part_id"])[lifted], relaxed, screen=False)
    for k, v in m.items():
        arrays[k] = np.asarray(arrays[k]).astype(np.result_type(arrays[k], v))
        arrays[k][lifted] = v
    out[lifted] = failure_reasons(m, modes, relaxed) == OK
    return out


def _one_round(obj, cfg, object_id: str, tabletop: Tabletop, modes=None, part_ids=None, seed=None,
               placement: str = "rule"):
    synth = cfg.synth
    if modes is not None:  # a top-up round: fill the optimiser's padded batch (same cost as num_per_part)
        synth = dataclasses.replace(synth, modes=tuple(modes), seed=seed, fill_batch=True,
                                    init=dataclasses.replace(synth.init, placement=placement))
    waive_q1 = cfg.q1_waiver_below > 0 or cfg.contact_waiver_below > 0
    if waive_q1:  # filter without Q1 (every metric measured), screen for Q1 per condition later
        synth = dataclasses.replace(synth, filter=dataclasses.replace(synth.filter, min_q1=0.0))
    arrays, meta = synthesize_object(obj, synth, object_ref=f"../objects/{object_id}.npz", part_ids=part_ids,
                                     tabletop=tabletop)
    arrays["init_placement"] = np.full(len(arrays["poses"]), synth.init.placement)
    if waive_q1:
        arrays["q1_low"] = arrays["valid"] & (np.nan_to_num(arrays["q1"], nan=0.0) < cfg.synth.filter.min_q1)
    valid = np.asarray(arrays["valid"], bool)
    near = np.zeros(len(valid), bool)
    if cfg.contact_waiver_below > 0 and cfg.sim_filter:
        near = contact_candidates(arrays, synth.filter)  # Q1 is off in synth.filter
    if cfg.sim_filter:
        verdicts = simulation_verdicts(obj, arrays["poses"], valid | near, tabletop, cfg.sim_protocols,
                                       cfg.sim_backend, part_ids=arrays["part_id"])
        lifted = near & verdicts["sim_success"] & verdicts["sim_on_part"]
        arrays["contacts_low"] = _measure_contact_waivable(obj, arrays, lifted, synth, tabletop)
    else:
        verdicts = {"sim_success": valid, "sim_reason": np.array(["" if v else "not_simulated" for v in valid])}
    return dict(arrays, **verdicts), meta


def synthesize_cached(object_id: str, obj, cfg, cache_dir: str, tabletop: Tabletop) -> dict:
    """Grasps of one object on its table (`grasp.io` arrays + `tabletop`) with the simulation verdicts, after
    `cfg.topup_rounds` top-up rounds (module docstring); cached in cache_dir/grasps/<object_id>.npz.

    cfg: a `data.pipeline.DatasetConfig` (synth, sim_filter, sim_protocols, sim_backend, topup_* (with
    topup_explore), q1_waiver_below, contact_waiver_below)."""
    def screened(g):
        waiving = cfg.q1_waiver_below > 0 or cfg.contact_waiver_below > 0
        if waiving and any(k in g for k in ("q1_low", "contacts_low")):
            return apply_waivers(g, cfg.q1_waiver_below, cfg.contact_waiver_below)
        return g

    path = os.path.join(cache_dir, "grasps", f"{object_id}.npz")
    if os.path.exists(path):
        grasps = grasp_io.load_grasps(path)
        meta = grasps.pop("meta")
    else:
        grasps, meta = _one_round(obj, cfg, object_id, tabletop)
        grasps = screened(grasps)
        meta = dict(meta, topup_rounds=0, topup_poses=0)
        grasp_io.save_grasps(path, grasps, meta)  # atomic (temp + rename)
    for round_index in range(meta.get("topup_rounds", 0) + 1, cfg.topup_rounds + 1):
        wanted = topup_conditions(grasps, cfg.topup_target, cfg.topup_min_kept, cfg.topup_explore)
        if not wanted:  # later rounds would find the same: the file is complete for this config
            meta["topup_rounds"] = cfg.topup_rounds
            grasp_io.save_grasps(path, grasps, meta)
            break
        for (mode, placement), parts in sorted(wanted.items()):
            seed = cfg.synth.seed + round_index * ROUND_SEED_STRIDE + MODES.index(mode)
            seed += EXPLORE_SEED_OFFSET if placement == "surface" else 0
            more, more_meta = _one_round(obj, cfg, object_id, tabletop, (mode,), parts, seed, placement)
            grasps = screened(_concatenate(grasps, more))
            meta["topup_poses"] = meta.get("topup_poses", 0) + len(more["poses"])
            meta["seconds"] = meta.get("seconds", 0.0) + more_meta["seconds"]
        meta["topup_rounds"] = round_index
        grasp_io.save_grasps(path, grasps, meta)
    return grasp_io.load_grasps(path)
