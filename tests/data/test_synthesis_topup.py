"""The data engine's top-up rounds (`data.synthesis`): which conditions are topped up, how rounds are appended,
seeded, cached and resumed. Synthesis itself is replaced by a deterministic stand-in that keeps a set number of
grasps per (part, mode, seed): these tests are about the round logic; the real synthesis and simulation that a
round runs are tested in tests/grasp and tests/sim."""
import dataclasses

import numpy as np
import pytest

from dexvlg_jax.data import pipeline, synthesis
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.grasp.synthesize import poses_per_part


def _rows(parts, modes, kept, nan_rows=()):
    n = len(parts)
    poses = np.zeros((n, 25), np.float32)
    poses[list(nan_rows)] = np.nan
    kept = np.asarray(kept, bool)
    return {"poses": poses, "part_id": np.asarray(parts, np.int32), "mode": np.asarray(modes),
            "valid": kept.copy(), "sim_success": kept.copy(), "status": np.where(kept, "ok", "contacts_far"),
            "object": np.array("../objects/x.npz"), "category": np.array("mug"), "object_name": np.array("mug_0"),
            "tabletop": np.array("")}


def test_topup_conditions_take_only_the_partly_covered_synthesised_ones():
    # part 0 wrap: 4 kept (covered); part 0 pinch: 1 kept; part 1 wrap: 0 kept; part 2 pinch: a NaN row (rule)
    g = _rows([0] * 5 + [0, 0] + [1, 1] + [2], ["wrap"] * 5 + ["pinch"] * 2 + ["wrap"] * 2 + ["pinch"],
              [1, 1, 1, 1, 0, 1, 0, 0, 0, 0], nan_rows=[9])
    assert synthesis.kept_counts(g) == {(0, "pinch"): 1, (0, "wrap"): 4, (1, "wrap"): 0, (2, "pinch"): 0}
    assert synthesis.topup_conditions(g, target=4, min_kept=1) == {("pinch", "rule"): [0]}
    assert synthesis.topup_conditions(g, target=4, min_kept=0) == {("pinch", "rule"): [0], ("wrap", "rule"): [1]}
    assert synthesis.topup_conditions(g, target=5, min_kept=1) == {("pinch", "rule"): [0], ("wrap", "rule"): [0]}
    # exploring: part 1 wrap (nothing kept) is explored; never the NaN row
    assert synthesis.topup_conditions(g, target=4, min_kept=1, explore=True) == {("pinch", "rule"): [0],
                                                                                 ("wrap", "surface"): [1]}


def test_a_condition_kept_only_by_exploration_is_explored_again():
    # part 0 wrap: 1 kept by the rule, 1 by exploration; part 1 wrap: 2 kept by exploration, the rule's row lost
    g = _rows([0, 0, 1, 1, 1], ["wrap"] * 5, [1, 1, 1, 1, 0])
    g["init_placement"] = np.array(["rule", "surface", "surface", "surface", "rule"])
    assert synthesis.topup_conditions(g, target=4, min_kept=1, explore=True) == {("wrap", "rule"): [0],
                                                                                 ("wrap", "surface"): [1]}
    assert synthesis.topup_conditions(g, target=4, min_kept=1) == {("wrap", "rule"): [0]}
    old_file = {k: v for k, v in g.items() if k != "init_placement"}  # written before the field: all "rule"
    assert synthesis.topup_conditions(old_file, target=4, min_kept=1, explore=True) == {("wrap", "rule"): [0, 1]}


def test_concatenate_keeps_scalars_and_widens_strings():
    a = _rows([0], ["wrap"], [1])
    b = _rows([1, 1], ["pinch"], [0, 1])
    b["status"] = np.array(["penetration", "ok"])  # a longer string dtype than a's
    out = synthesis._concatenate(a, b)
    assert out["status"].tolist() == ["ok", "penetration", "ok"]
    assert str(out["category"]) == "mug" and out["poses"].shape == (3, 25)
    assert "init_placement" not in out  # neither side has it
    b["init_placement"] = np.array(["surface", "surface"])  # a round of this version after an older file's rows
    assert synthesis._concatenate(a, b)["init_placement"].tolist() == ["rule", "surface", "surface"]


class FakeRounds:
    """Stands in for one synthesis + simulation round: `per_round` kept grasps of 4 poses per (part, mode); part 1
    wrap keeps none in round 0. Records every call's (modes, parts, seed)."""

    def __init__(self, per_round=1):
        self.calls, self.per_round = [], per_round

    def __call__(self, obj, cfg, object_id, tabletop, modes=None, part_ids=None, seed=None, placement="rule"):
        self.calls.append((modes, part_ids, seed) if placement == "rule" else (modes, part_ids, seed, placement))
        modes, part_ids = modes or ("wrap", "pinch"), part_ids if part_ids is not None else [0, 1]
        parts, mode_col, kept = [], [], []
        for mode in modes:
            for part in part_ids:
                n_kept = 0 if (part, mode, modes) == (1, "wrap", ("wrap", "pinch")) else self.per_round
                parts += [part] * 4
                mode_col += [mode] * 4
                kept += [1] * n_kept + [0] * (4 - n_kept)
        return _rows(parts, mode_col, kept), {"seconds": 1.0}


@pytest.fixture
def fake(monkeypatch):
    rounds = FakeRounds()
    monkeypatch.setattr(synthesis, "_one_round", rounds)
    return rounds


def test_rounds_top_up_until_the_target_with_new_seeds(tmp_path, fake):
    cfg = dataclasses.replace(pipeline.DatasetConfig(), topup_rounds=5, topup_target=3, topup_min_kept=1)
    g = synthesis.synthesize_cached("x", None, cfg, str(tmp_path), None)
    # round 0 keeps 1 per condition except part 1 wrap (0): rounds 1 and 2 top up the three others to 3 each
    assert synthesis.kept_counts(g) == {(0, "pinch"): 3, (0, "wrap"): 3, (1, "pinch"): 3, (1, "wrap"): 0}
    assert fake.calls[0] == (None, None, None)
    topups = fake.calls[1:]
    assert sorted(topups) == sorted([(("pinch",), [0, 1], 1001), (("wrap",), [0], 1000),
                                     (("pinch",), [0, 1], 2001), (("wrap",), [0], 2000)])
    assert len({seed for _, _, seed in topups}) == 4
    assert g["meta"]["topup_rounds"] == 5 and g["meta"]["topup_poses"] == 2 * 12  # stopped once nothing was wanted


def test_exploring_rounds_take_the_empty_condition_with_their_own_seeds(tmp_path, fake):
    cfg = dataclasses.replace(pipeline.DatasetConfig(), topup_rounds=1, topup_target=3, topup_explore=True)
    g = synthesis.synthesize_cached("x", None, cfg, str(tmp_path), None)
    # part 1 wrap kept nothing in round 0: explored (seed offset 500); the three others topped up by the rule
    assert sorted(fake.calls[1:], key=str) == sorted([(("pinch",), [0, 1], 1001), (("wrap",), [0], 1000),
                                                      (("wrap",), [1], 1500, "surface")], key=str)
    assert synthesis.kept_counts(g)[(1, "wrap")] == 1


def test_cached_files_resume_and_extend(tmp_path, fake):
    base = pipeline.DatasetConfig()
    g0 = synthesis.synthesize_cached("x", None, base, str(tmp_path), None)  # topup_rounds = 0: round 0 only
    assert len(fake.calls) == 1 and g0["meta"]["topup_rounds"] == 0
    again = synthesis.synthesize_cached("x", None, base, str(tmp_path), None)
    assert len(fake.calls) == 1 and len(again["poses"]) == len(g0["poses"])  # cached: nothing re-run
    one = dataclasses.replace(base, topup_rounds=1, topup_target=3)
    g1 = synthesis.synthesize_cached("x", None, one, str(tmp_path), None)  # extends the cached file by round 1
    assert [c[2] for c in fake.calls[1:]] == [1001, 1000] and g1["meta"]["topup_rounds"] == 1
    on_disk = grasp_io.load_grasps(tmp_path / "grasps" / "x.npz")
    assert len(on_disk["poses"]) == len(g0["poses"]) + 12
    two = dataclasses.replace(one, topup_rounds=2)
    synthesis.synthesize_cached("x", None, two, str(tmp_path), None)  # only round 2 is new
    assert [c[2] for c in fake.calls[3:]] == [2001, 2000]


def test_q1_waiver_keeps_low_q1_lifting_grasps_only_where_a_condition_is_short():
    # part 0 wrap: 2 screened kept + 1 low-Q1 lifting + 1 low-Q1 dropping; part 1 wrap: 4 screened kept + 1 low-Q1
    g = _rows([0] * 4 + [1] * 5, ["wrap"] * 9, [1] * 9)
    g["q1_low"] = np.array([0, 0, 1, 1, 0, 0, 0, 0, 1], bool)
    g["sim_success"] = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1], bool)
    out = synthesis.apply_waivers(g, q1_below=4, contact_below=0)
    assert out["q1_waived"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert out["status"].tolist() == ["ok"] * 8 + ["low_q1"]
    assert synthesis.kept_counts(out) == {(0, "wrap"): 3, (1, "wrap"): 4}  # the dropping one is not kept
    assert out["valid"].tolist() == [1] * 8 + [0]
    again = synthesis.apply_waivers(out, q1_below=4, contact_below=0)
    assert again["status"].tolist() == out["status"].tolist()  # idempotent
    stricter = synthesis.apply_waivers(out, q1_below=2, contact_below=0)  # part 0 now has enough screened grasps
    assert stricter["status"].tolist() == ["ok", "ok", "low_q1", "low_q1"] + ["ok"] * 4 + ["low_q1"]
    assert not synthesis.apply_waivers(g, q1_below=0, contact_below=0)["q1_waived"].any()


def test_a_round_fills_the_padded_batch_and_filters_without_q1_when_waiving(monkeypatch):
    seen = []

    def fake_synthesize(obj, synth, object_ref, part_ids, tabletop):
        seen.append(synth)
        g = _rows([0, 0], ["wrap"] * 2, [1, 1])
        g["q1"] = np.array([0.002, 0.05], np.float32)
        return g, {"seconds": 0.0}

    monkeypatch.setattr(synthesis, "synthesize_object", fake_synthesize)
    cfg = dataclasses.replace(pipeline.DatasetConfig(sim_filter=False), q1_waiver_below=4)
    cfg = dataclasses.replace(cfg, synth=dataclasses.replace(
        cfg.synth, batch_size=64, init=dataclasses.replace(cfg.synth.init, num_per_part=16)))
    first, _ = synthesis._one_round(None, cfg, "x", None)
    more, _ = synthesis._one_round(None, cfg, "x", None, ("pinch",), [3, 5, 7], seed=1001)
    assert seen[0].init.num_per_part == 16 and seen[0].filter.min_q1 == 0.0
    assert seen[1].fill_batch and seen[1].modes == ("pinch",) and seen[1].seed == 1001
    assert poses_per_part(3, seen[1]) == 21  # three parts' 16 poses fill one batch of 64
    assert first["q1_low"].tolist() == [True, False]
    plain = dataclasses.replace(cfg, q1_waiver_below=0)
    synthesis._one_round(None, plain, "x", None)
    assert seen[2].filter.min_q1 == plain.synth.filter.min_q1 > 0


def test_a_waiver_round_on_a_cache_built_without_it_screens_only_its_own_rows(tmp_path, monkeypatch):
    """Round 0 cached without the waiver (no `q1_low`); a top-up round with it adds low-Q1 rows: the old rows keep
    their verdicts and the new low-Q1 ones are decided by the waiver, none slips through unscreened."""
    def one_round(obj, cfg, object_id, tabletop, modes=None, part_ids=None, seed=None, placement="rule"):
        if modes is None:
            return _rows([0] * 4, ["wrap"] * 4, [1, 0, 0, 0]), {"seconds": 0.0}
        g = _rows([0] * 4, ["wrap"] * 4, [1, 1, 1, 1])  # all pass the filter without Q1; two fail only Q1
        g["q1_low"] = np.array([0, 0, 1, 1], bool)
        return g, {"seconds": 0.0}

    monkeypatch.setattr(synthesis, "_one_round", one_round)
    synthesis.synthesize_cached("x", None, pipeline.DatasetConfig(), str(tmp_path), None)
    cfg = dataclasses.replace(pipeline.DatasetConfig(), topup_rounds=1, q1_waiver_below=4)
    g = synthesis.synthesize_cached("x", None, cfg, str(tmp_path), None)
    assert g["q1_low"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1]
    assert g["q1_waived"].tolist() == [0] * 6 + [1, 1]  # 3 screened kept < 4: the two lifting low-Q1 ones stay
    assert synthesis.kept_counts(g) == {(0, "wrap"): 5}
    more = dataclasses.replace(cfg, topup_rounds=2, topup_target=6)  # round 2: 2 more screened, 5 >= 4
    g2 = synthesis.synthesize_cached("x", None, more, str(tmp_path), None)
    assert g2["status"].tolist()[6:8] == g2["status"].tolist()[10:12] == ["low_q1", "low_q1"]
    assert not g2["q1_waived"].any() and synthesis.kept_counts(g2) == {(0, "wrap"): 5}
