"""The data engine's screen waivers (`data.synthesis.apply_waivers`, `contact_candidates`, `simulation_verdicts`):
which grasps that failed only the touching-contact count or Q1 a short condition keeps. The simulation is replaced
by a stand-in record here; the real protocol is tested in tests/sim."""
import dataclasses
import types

import numpy as np

from dexvlg_jax.data import pipeline, synthesis
from dexvlg_jax.grasp.metrics import FilterConfig
from dexvlg_jax.sim import metrics as sim_metrics
from dexvlg_jax.sim.records import TrialRecord


def _record(success, reason, part_contacts) -> TrialRecord:
    n = len(success)
    return TrialRecord(success=np.asarray(success, bool), reason=list(reason), displacement=np.zeros(n),
                       rotation=np.zeros(n), rise=np.zeros(n), penetration=np.zeros(n),
                       part_contacts=np.asarray(part_contacts), phase_names=(),
                       phase_object_pos=np.zeros((n, 0, 3)), phase_object_quat=np.zeros((n, 0, 4)))


def _result(rec: TrialRecord, part_ids):
    """What `sim.evaluate` returns for one object, as far as `simulation_verdicts` reads it."""
    return types.SimpleNamespace(records=[rec], per_trial=sim_metrics.per_trial(rec, part_ids))


def _grasps(parts, status, sim_success, on_part, contacts_low=None, q1_low=None):
    n = len(parts)
    g = {"poses": np.zeros((n, 25), np.float32), "part_id": np.asarray(parts, np.int32),
         "mode": np.array(["pinch"] * n), "status": np.asarray(status), "valid": np.asarray(status) == "ok",
         "sim_success": np.asarray(sim_success, bool), "sim_on_part": np.asarray(on_part, bool)}
    if contacts_low is not None:
        g["contacts_low"] = np.asarray(contacts_low, bool)
    if q1_low is not None:
        g["q1_low"] = np.asarray(q1_low, bool)
    return g


def test_contact_waiver_keeps_lifting_on_part_grasps_only_in_short_conditions():
    # part 0: 1 screened kept + 3 contacts_low (lift on part, lift off part, lift on part) + 1 q1_low lifting off part
    # part 1: 4 screened kept + 1 contacts_low lifting on part
    g = _grasps([0] * 5 + [1] * 5,
                ["ok", "contacts_far", "contacts_far", "contacts_far", "ok"] + ["ok"] * 4 + ["contacts_far"],
                [1] * 10, [1, 1, 0, 1, 0] + [1] * 5,
                contacts_low=[0, 1, 1, 1, 0] + [0] * 4 + [1], q1_low=[0, 0, 0, 0, 1] + [0] * 5)
    out = synthesis.apply_waivers(g, q1_below=0, contact_below=4)
    assert out["contacts_waived"].tolist() == [0, 1, 0, 1, 0] + [0] * 5
    assert not out["q1_waived"].any()  # a Q1-only grasp needs the part too under the contact waiver
    assert out["status"].tolist() == ["ok", "ok", "contacts_far", "ok", "low_q1"] + ["ok"] * 4 + ["contacts_far"]
    assert synthesis.kept_counts(out) == {(0, "pinch"): 3, (1, "pinch"): 4}
    assert synthesis.apply_waivers(out, 0, 4)["status"].tolist() == out["status"].tolist()  # idempotent
    # the Q1 waiver alone keeps the Q1-only grasp on lift alone, and no contacts_low grasp
    q1_only = synthesis.apply_waivers(g, q1_below=4, contact_below=0)
    assert q1_only["q1_waived"].tolist() == [0, 0, 0, 0, 1] + [0] * 5 and not q1_only["contacts_waived"].any()
    assert not synthesis.apply_waivers(g, 0, 1)["contacts_waived"].any()  # 1 screened kept is enough at 1


def test_contact_candidates_pass_every_other_check():
    cfg = FilterConfig()
    arrays = {"mode": np.array(["wrap", "wrap", "wrap", "pinch", "pinch"]),
              "status": np.array(["contacts_far", "contacts_far", "contacts_far", "contacts_far", "ok"]),
              "pen_mm": np.array([np.nan, 5.0, np.nan, np.nan, 1.0]), "hand_pen_mm": np.array([np.nan, 5.0, np.nan,
                                                                                                np.nan, 1.0]),
              "spen_mm": np.zeros(5), "table_mm": np.zeros(5), "num_touching": np.array([2, 2, 0, 1, 3]),
              "q1": np.array([0.0, 0.0, 0.0, 0.0, 0.1]), "part_agreement": np.array([1.0, 1.0, 0.0, 0.0, 1.0])}
    # row 1 penetrates, row 2 touches nothing, row 3 touches off the part, row 4 already passed
    no_q1 = dataclasses.replace(cfg, min_q1=0.0)  # the filter synthesis uses under the waivers
    assert synthesis.contact_candidates(arrays, no_q1).tolist() == [1, 0, 0, 0, 0]
    assert not synthesis.contact_candidates(arrays, cfg).any()  # with the Q1 screen, Q1 = 0 fails


def test_simulation_verdicts_record_whether_the_instructed_part_holds_the_majority(monkeypatch):
    counts = np.array([[3, 1], [1, 1], [0, 2]])  # contacts per part for the three simulated grasps

    def fake_simulate(obj, poses, protocol, backend, tabletops, part_ids):
        return _result(_record(np.ones(len(poses)), [""] * len(poses), counts[:len(poses)]), part_ids)

    monkeypatch.setattr(synthesis, "simulate", fake_simulate)
    out = synthesis.simulation_verdicts(None, np.zeros((4, 25)), [1, 1, 1, 0], None, ("tabletop_lift",), "c",
                                        part_ids=[0, 0, 1, 1])
    assert out["sim_on_part"].tolist() == [1, 0, 1, 0]  # a tie is not a majority; row 3 was not simulated
    assert out["sim_success"].tolist() == [1, 1, 1, 0]


def test_a_round_with_the_contact_waiver_measures_only_the_lifting_candidates(monkeypatch):
    """Synthesis, simulation and the exact metrics are stand-ins: rows 0-1 pass the filter, rows 2-4 fail only the
    contact count, row 5 penetrates. Rows 2-4 are simulated; row 2 lifts on the part, row 3 lifts off it, row 4
    falls; only row 2 is measured exactly, and it passes."""
    def fake_synthesize(obj, synth, object_ref, part_ids, tabletop):
        n = 6
        return {"poses": np.zeros((n, 25), np.float32), "part_id": np.zeros(n, np.int32),
                "mode": np.array(["wrap"] * n), "valid": np.array([1, 1, 0, 0, 0, 0], bool),
                "status": np.array(["ok", "ok", "contacts_far", "contacts_far", "contacts_far", "penetration"]),
                "pen_mm": np.array([1, 1, np.nan, np.nan, np.nan, 9], np.float32),
                "hand_pen_mm": np.array([1, 1, np.nan, np.nan, np.nan, 9], np.float32),
                "spen_mm": np.zeros(n, np.float32), "table_mm": np.zeros(n, np.float32),
                "num_touching": np.array([5, 5, 2, 2, 2, 5]), "q1": np.full(n, 0.05, np.float32),
                "part_agreement": np.ones(n, np.float32)}, {"seconds": 0.0}

    simulated, measured = [], []

    def fake_simulate(obj, poses, protocol, backend, tabletops, part_ids):
        simulated.append(len(poses))  # rows 0, 1, 2, 3, 4
        rec = _record([1, 1, 1, 1, 0], [""] * 4 + ["slipped"], [[2, 0], [2, 0], [2, 1], [1, 2], [2, 0]])
        return _result(rec, part_ids)

    def fake_metrics(poses, sobj, obj, modes, part_ids, cfg, screen=True):
        measured.append(len(poses))
        return {"pen_mm": np.full(len(poses), 2.0, np.float32), "num_touching": np.full(len(poses), 2)}

    monkeypatch.setattr(synthesis, "synthesize_object", fake_synthesize)
    monkeypatch.setattr(synthesis, "simulate", fake_simulate)
    monkeypatch.setattr(synthesis, "synth_object", lambda *a, **k: None)
    monkeypatch.setattr(synthesis, "grasp_metrics", fake_metrics)
    monkeypatch.setattr(synthesis, "failure_reasons", lambda m, modes, cfg: np.where(
        np.nan_to_num(np.asarray(m["pen_mm"], float)) > cfg.max_pen_mm, "penetration", "ok"))
    cfg = dataclasses.replace(pipeline.DatasetConfig(), contact_waiver_below=4)
    arrays, _ = synthesis._one_round(None, cfg, "x", None)
    assert simulated == [5] and measured == [1]
    assert arrays["contacts_low"].tolist() == [0, 0, 1, 0, 0, 0]
    assert arrays["pen_mm"][2] == 2.0 and arrays["sim_on_part"].tolist() == [1, 1, 1, 0, 0, 0]  # row 4 fell: no PGA
    out = synthesis.apply_waivers(arrays, 0, 4)
    assert synthesis.kept_counts(out) == {(0, "wrap"): 3}
