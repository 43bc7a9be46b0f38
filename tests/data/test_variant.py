"""A change to the grasp stage measured on a built dataset (`data.variant`): the build's own config gives the build's
grasps again (real synthesis, small shapes); a changed setting is named and its grasps differ; the variant runs in
the build's placement, resumes from its folder, and bad input is named."""
import dataclasses
import os

import numpy as np
import pytest

from dexvlg_jax import grasp as G
from dexvlg_jax import objects
from dexvlg_jax.cli_errors import UserFileNotFoundError, UserValueError
from dexvlg_jax.data import pipeline, synthesis
from dexvlg_jax.data.variant import compare_grasp_stage, config_changes
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.objects.reference_shapes import cylinder_object
from dexvlg_jax.scene import Tabletop, place_object
from tests.eval import tiny_dataset

# The shapes of tests/grasp/test_synthesize.py (one compilation shared within a pytest run); no simulation filter.
SYNTH = G.SynthConfig(
    init=G.InitConfig(num_per_part=4),
    energy=G.EnergyConfig(fc_kind="dfc", points_per_primitive=8),
    optimizer=G.OptimizerConfig(num_iters=20, refresh_every=10, step_period=5, temperature_period=4),
    modes=("wrap",), batch_size=8, num_object_points=512, grid_shape=(52, 52, 52))
CFG = pipeline.DatasetConfig(synth=SYNTH, sim_filter=False)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """tests/eval/tiny_dataset.py's layout with shaft_1 a processed cylinder (3 cm radius, 16 cm) standing on the
    table and its grasp file from a real grasp stage run of CFG."""
    root = tiny_dataset.write_dataset(str(tmp_path_factory.mktemp("build")))
    os.remove(os.path.join(root, "cache", "grasps", "shaft_1.npz"))
    obj = dataclasses.replace(cylinder_object(0.03, 0.16, num_points=512, resolution=32), name="shaft_1")
    objects.save_processed(obj, os.path.join(root, "cache", "objects", "shaft_1.npz"))
    synthesis.synthesize_cached("shaft_1", obj, CFG, os.path.join(root, "cache"), place_object(obj, yaw=0.4))
    return root


def test_the_builds_own_config_gives_its_grasps_and_a_change_is_named(build, tmp_path):
    same = compare_grasp_stage(build, CFG, str(tmp_path / "same"), objects=["shaft_1"], min_grasps=1)
    base = grasp_io.load_grasps(os.path.join(build, "cache", "grasps", "shaft_1.npz"))
    again = grasp_io.load_grasps(str(tmp_path / "same" / "grasps" / "shaft_1.npz"))
    np.testing.assert_array_equal(again["poses"], base["poses"])  # same seeds, same grasps
    assert same["changed"] == {} and same["totals"]["base"] == same["totals"]["variant"]
    assert same["totals"]["variant"]["poses"] == 4 and set(same["seconds"]) == {"shaft_1"}

    other = dataclasses.replace(CFG, synth=dataclasses.replace(SYNTH, seed=1))
    moved = compare_grasp_stage(build, other, str(tmp_path / "seed1"), objects=["shaft_1"])
    assert moved["changed"] == {"seed": [0, 1]}
    varied = grasp_io.load_grasps(str(tmp_path / "seed1" / "grasps" / "shaft_1.npz"))
    assert not np.allclose(varied["poses"], base["poses"])


class KeepTwoWraps:
    """Stands in for one synthesis + simulation round: 3 wrap poses of part 0, two kept; records the placements."""

    def __init__(self):
        self.tabletops = []

    def __call__(self, obj, cfg, object_id, tabletop, modes=None, part_ids=None, seed=None):
        self.tabletops.append((object_id, tabletop))
        kept = np.array([True, True, False])
        return ({"poses": np.zeros((3, 25), np.float32), "part_id": np.zeros(3, np.int32),
                 "mode": np.array(["wrap"] * 3), "valid": kept, "sim_success": kept,
                 "status": np.where(kept, "ok", "contacts_far"), "object": np.array(f"../objects/{object_id}.npz"),
                 "category": np.array("flashlight"), "object_name": np.array(object_id),
                 "tabletop": np.array("")}, {"seconds": 0.0, "config": {"seed": 5}})


def test_conditions_of_both_sides_in_the_builds_placement_and_a_resume(monkeypatch, tmp_path, capsys):
    root = tiny_dataset.write_dataset(str(tmp_path / "build"))
    fake = KeepTwoWraps()
    monkeypatch.setattr(synthesis, "_one_round", fake)
    report = compare_grasp_stage(root, pipeline.DatasetConfig(), str(tmp_path / "v"), min_grasps=2, progress=True)
    printed = capsys.readouterr()
    assert printed.out == "" and "shaft_2: kept 0 -> 2" in printed.err  # stdout stays the benchmark's JSON
    rows = {(r["object"], r["mode"]): (r["base"], r["variant"]) for r in report["conditions"]}
    # the build: shaft_0 wrap 1 kept, its pinch a rule row; shaft_1 wrap 1; shaft_2 wrap 0 (dropped)
    assert rows == {("shaft_0", "wrap"): (1, 2), ("shaft_0", "pinch"): (0, 0), ("shaft_1", "wrap"): (1, 2),
                    ("shaft_2", "wrap"): (0, 2)}
    assert report["totals"]["base"] == {"poses": 3, "kept": 2, "covered": 0, "conditions": 4}
    assert report["totals"]["variant"] == {"poses": 9, "kept": 6, "covered": 3, "conditions": 4}
    for object_id, tabletop in fake.tabletops:  # each object on the table the build placed it on
        want = Tabletop.from_json(grasp_io.load_grasps(f"{root}/cache/grasps/{object_id}.npz")["tabletop"])
        np.testing.assert_allclose(tabletop.object_to_world, want.object_to_world)
    assert report["changed"] == {"seed": [0, 5]}  # the hand-written build has no config meta: the defaults
    again = compare_grasp_stage(root, pipeline.DatasetConfig(), str(tmp_path / "v"), objects=["shaft_2"])
    assert again["resumed"] == ["shaft_2"] and again["seconds"] == {} and len(fake.tabletops) == 3


def test_bad_input_is_named(tmp_path):
    root = tiny_dataset.write_dataset(str(tmp_path / "build"))
    with pytest.raises(UserValueError, match="shaft_9 not in"):
        compare_grasp_stage(root, pipeline.DatasetConfig(), str(tmp_path / "v"), objects=["shaft_9"])
    with pytest.raises(UserFileNotFoundError, match="no grasp files"):
        compare_grasp_stage(str(tmp_path), pipeline.DatasetConfig(), str(tmp_path / "v"))
    changes = config_changes({"config": {"a": {"b": (1, 2)}}}, {"config": {"a": {"b": [1, 2]}, "c": 0}})
    assert changes == {"c": [None, 0]}  # a tuple and its JSON list are the same setting
    older = {"config": {"seed": 0}}  # a file written before `init.placement` existed ran the class rule
    assert config_changes(older, {"config": {"seed": 0, "init": {"placement": "rule"}}}) == {}
    assert config_changes(older, {"config": {"init": {"placement": "surface"}}}) == {"init.placement": ["rule",
                                                                                                        "surface"]}


def test_the_benchmark_command_builds_the_variant_config_and_checks_the_objects(tmp_path):
    from launch import bench_variant
    root = tiny_dataset.write_dataset(str(tmp_path / "build"))
    config = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "configs", "data", "demo.py")
    with pytest.raises(UserValueError, match="shaft_9 not in"):
        bench_variant.main(["--data", root, "--out", str(tmp_path / "v"), "--config", config,
                            "--set", "synth.weights.dir=10", "--objects", "shaft_9"])
    with pytest.raises(KeyError, match="no_such_field"):
        bench_variant.main(["--data", root, "--out", str(tmp_path / "v"), "--config", config,
                            "--set", "synth.weights.no_such_field=1"])
