"""evaluate_checkpoint on a tiny trained checkpoint and the hand-written dataset of tests/eval/tiny_dataset.py:
the model samples on the dataset's placed objects (rendered by the data engine's code), the retrieval baseline
runs on the same conditions (its one train grasp is known-good, so it must succeed), uncovered conditions are
skipped, and the table, JSON and pictures are written.

Sampling runs on one device: with jax 0.10.2 on CPU, a multi-device (4, 2)-sharded sampling executable loaded
from the persistent compilation cache aborts the process; compiled fresh it works."""
import dataclasses
import json
import os

import jax
import numpy as np
import pytest

from configs.eval import model_tiny
from dexvlg_jax import config_files
from dexvlg_jax import eval as evaluation
from dexvlg_jax import sim
from dexvlg_jax.data import writer
from dexvlg_jax.train import checkpoint as evaluation_errors
from dexvlg_jax.train import sharding, train
from tests.eval import tiny_dataset
from tests.train.conftest import tiny_train_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("eval_run"))
    train(tiny_train_config(), workdir, progress=False)
    return workdir


def test_checkpoint_on_the_dataset_with_the_baseline(trained, tmp_path):
    dataset = tiny_dataset.write_dataset(str(tmp_path / "dataset"))
    out = str(tmp_path / "eval")
    config = evaluation.EvalConfig(samples=2, views=1, pictures=2, num_steps=2, batch_size=4)
    report = evaluation.evaluate_checkpoint(trained, config, out_dir=out, dataset=dataset,
                                            mesh=sharding.make_mesh(1, jax.devices()[:1]))
    assert report["step"] == 4 and report["head"] == "flow" and report["dataset"] == dataset
    manifest = writer.read_manifest(dataset)
    assert {k: v["split"] for k, v in report["objects"].items()} == manifest["splits"]
    # the same 2 covered conditions for both policies, K trials each; 4 conditions skipped with reasons
    assert report["coverage"] == {"conditions": 6, "evaluated": 2, "skipped": 4}
    assert sorted((t["object"], t["mode"]) for t in report["trials"]) == \
        [("shaft_0", "wrap")] * 2 + [("shaft_1", "wrap")] * 2
    assert all("flashlight" in t["instruction"] and "body" in t["instruction"] for t in report["trials"])
    assert set(report["summary"]) == {"seen/wrap", "unseen_instance/wrap", "seen", "unseen_instance", "all"}
    assert 0.0 <= report["joints_out_of_range_fraction"] <= 1.0
    baseline = report["retrieval"]
    conditions = [(t["object"], t["mode"]) for t in report["trials"]]
    assert [(t["object"], t["mode"]) for t in baseline["trials"]] == conditions
    assert baseline["summary"]["all"]["success_rate"] == 1.0  # the dataset's train grasp is known-good
    blind = report["retrieval_yaw_unknown"]
    assert [(t["object"], t["mode"]) for t in blind["trials"]] == conditions
    assert "retrieval success" in report["table"] and "retrieval_yaw_unknown success" in report["table"]
    assert "skipped 4" in report["table"]
    with open(os.path.join(out, "eval_results.json")) as f:
        saved = json.load(f)
    assert saved["summary"].keys() == report["summary"].keys() and len(saved["skipped"]) == 4
    table = open(os.path.join(out, "eval_table.txt")).read()
    assert "seen/wrap" in table and "part_too_big: body is 6.0 cm across" in table
    assert report["pictures"] and all(os.path.exists(p) for p in report["pictures"])


def test_synthetic_data_run_needs_a_dataset(trained):
    with pytest.raises(ValueError, match="synthetic data"):
        evaluation.evaluate_checkpoint(trained, evaluation.EvalConfig(), mesh=sharding.make_mesh(1, jax.devices()[:1]))


@pytest.mark.parametrize("arg", [None, "smoke"])
def test_eval_config_converts(arg):
    config, protocol, scene = config_files.eval_configs(model_tiny.get_config(arg))
    assert isinstance(config, evaluation.EvalConfig) and isinstance(protocol, sim.TabletopLiftConfig)
    assert isinstance(scene, sim.SceneConfig) and config.policy == "model" and config.compare_retrieval
    assert config.max_parts == (1 if arg else 2)


def test_a_flow_run_cannot_be_sampled_with_a_diffusion_head(trained, tmp_path):
    dataset = tiny_dataset.write_dataset(str(tmp_path / "dataset"))
    with pytest.raises(ValueError, match="only ddpm and ddim share training"):
        evaluation.evaluate_checkpoint(trained, evaluation.EvalConfig(head="ddim"), dataset=dataset,
                                       mesh=sharding.make_mesh(1, jax.devices()[:1]))
    with pytest.raises(ValueError, match="EvalConfig.head"):
        evaluation.EvalConfig(head="euler")


def test_ranked_refined_mirrored_samples(trained, tmp_path, monkeypatch):
    """`:ranked`-style evaluation with mirror completion: the policy's observations carry the reflections (2 x
    num_points slots, the second half weighted), ranking and refinement run on them, and the trials come out."""
    from dexvlg_jax.grasp import refine as refine_lib

    seen = []
    original = refine_lib.observed_scene

    def spy(*args, **kwargs):
        scene = original(*args, **kwargs)
        half = scene.points.shape[0] // 2
        seen.append((kwargs.get("mirror"), scene.points.shape[0], float(scene.valid[half:].sum())))
        return scene

    monkeypatch.setattr(refine_lib, "observed_scene", spy)
    dataset = tiny_dataset.write_dataset(str(tmp_path / "dataset"))
    config = evaluation.EvalConfig(samples=2, views=1, pictures=0, num_steps=2, batch_size=4, compare_retrieval=False,
                                   rank_candidates=4, refine=True, refine_steps=2, mirror=True)
    report = evaluation.evaluate_checkpoint(trained, config, dataset=dataset,
                                            mesh=sharding.make_mesh(1, jax.devices()[:1]))
    assert len(report["trials"]) == 4 and report["config"]["mirror"] is True
    assert seen and all(m is True and slots == 2 * refine_lib.RefineConfig().num_points and back > 0
                        for m, slots, back in seen), seen
    assert report["timing"]["rank_s"] > 0 and report["timing"]["refine_s"] > 0


def test_verified_samples(trained, tmp_path, monkeypatch):
    """`:verified`-style evaluation: each observation's best-ranked candidates are simulated against shapes
    guessed from its view with the evaluation's protocol and physics, and the highest-scoring ones are delivered."""
    from dexvlg_jax.eval import verify

    calls = []
    original = verify.select_verified

    def spy(poses, view, tabletop, protocol, scene_config, config, keep):
        chosen, count = original(poses, view, tabletop, protocol, scene_config, config, keep)
        full = verify.verification_scores(poses.reshape(-1, poses.shape[-1]), view, tabletop, protocol,
                                          scene_config, config).reshape(poses.shape[:2])
        calls.append((poses.shape, view, protocol, scene_config, full, chosen, verify.keep_verified(full, keep)))
        return chosen, count

    monkeypatch.setattr(verify, "select_verified", spy)
    dataset = tiny_dataset.write_dataset(str(tmp_path / "dataset"))
    protocol, scene = sim.TabletopLiftConfig(lift_time=0.2, hold_time=0.1), sim.SceneConfig(iterations=5)
    config = evaluation.EvalConfig(samples=2, views=1, pictures=0, num_steps=2, batch_size=4, compare_retrieval=False,
                                   rank_candidates=6, verify=True, verify_candidates=3)
    report = evaluation.evaluate_checkpoint(trained, config, dataset=dataset, protocol=protocol, scene_config=scene,
                                            mesh=sharding.make_mesh(1, jax.devices()[:1]))
    assert len(report["trials"]) == 4 and report["timing"]["verify_s"] > 0
    assert len(calls) == 2 and all(shape == (1, 3, 25) for shape, *_ in calls)  # one view x condition per object
    assert report["timing"]["verify_simulations"] <= 2 * 3 * 6
    for _, view, used_protocol, used_scene, scores, chosen, reference in calls:
        assert used_protocol == protocol and used_scene == scene
        assert len(view.seen) > 0 and len(view.completed) > len(view.seen)  # mirror completion added points
        assert 0.5 < np.linalg.norm(view.camera) < 1.2  # the camera rig stands ~0.8 m from the object
        assert np.all((0 <= scores) & (scores <= 6))
        assert chosen.tolist() == reference.tolist()  # the lazy choice is the full score table's
    with pytest.raises(ValueError, match="verify_candidates"):
        evaluation.EvalConfig(samples=4, verify=True, verify_candidates=2)


def test_the_run_along_its_learning_curve(trained, tmp_path):
    """`evaluate_curve`: every kept step (the tiny run keeps 2 and 4) evaluated with the same views; the baselines
    once, from the first step; each step's report under step_<N>/ and the curve in curve.json; a step that was not
    kept is refused with the kept steps named."""
    assert evaluation.kept_steps(trained) == [2, 4]
    dataset = tiny_dataset.write_dataset(str(tmp_path / "dataset"))
    out = str(tmp_path / "curve")
    config = evaluation.EvalConfig(samples=2, views=1, pictures=0, num_steps=2, batch_size=4)
    mesh = sharding.make_mesh(1, jax.devices()[:1])
    curve = evaluation.evaluate_curve(trained, config, steps=None, out_dir=out, dataset=dataset, mesh=mesh)
    assert curve["steps"] == [2, 4] and [r["step"] for r in curve["rows"]] == [2, 4]
    assert [r["name"] for r in curve["baselines"]] == ["retrieval_yaw_unknown", "retrieval"]
    assert curve["baselines"][1]["all"][0] == 1.0  # the dataset's train grasp is known-good
    assert "retrieval" in curve["reports"][2] and "retrieval" not in curve["reports"][4]
    for step in (2, 4):
        report = curve["reports"][step]
        assert report["step"] == step
        assert [r for r in curve["rows"] if r["step"] == step][0]["all"][0] == report["summary"]["all"]["success_rate"]
        assert os.path.exists(os.path.join(out, f"step_{step}", "eval_results.json"))
    saved = json.load(open(os.path.join(out, "curve.json")))
    assert saved["steps"] == [2, 4] and saved["table"] == curve["table"]
    assert "step 2" in curve["table"] and "step 4" in curve["table"] and "retrieval" in curve["table"]
    with pytest.raises(evaluation_errors.CheckpointError, match=r"step\(s\) \[3\] not kept .*kept: \[2, 4\]"):
        evaluation.evaluate_curve(trained, config, steps=[3], dataset=dataset, mesh=mesh)


def test_a_checkpoint_ensemble_shares_the_candidates(trained, tmp_path, monkeypatch):
    """`ensemble`: the members' samples are concatenated, the first model's share drawn exactly as a single model
    would draw it (same key), the second's with another key; members that read other observations are refused."""
    from dexvlg_jax.eval import policies
    from dexvlg_jax.train import load_checkpoint

    drawn = []
    original = policies.ModelPolicy._sample_rows

    def spy(self, rows):
        out = original(self, rows)
        drawn.append((rows, out, self.member_shares()))
        return out

    monkeypatch.setattr(policies.ModelPolicy, "_sample_rows", spy)
    dataset = tiny_dataset.write_dataset(str(tmp_path / "dataset"))
    mesh = sharding.make_mesh(1, jax.devices()[:1])
    config = evaluation.EvalConfig(samples=2, views=1, pictures=0, num_steps=2, batch_size=4, compare_retrieval=False,
                                   rank_candidates=5)
    report = evaluation.evaluate_checkpoint(trained, config, dataset=dataset, mesh=mesh, ensemble=(trained,))
    assert len(report["trials"]) == 4 and report["ensemble"] == [trained]
    [(rows, samples, shares)] = drawn
    assert shares == [3, 2] and samples.shape == (len(rows), 5, 25)
    train_config, state, _ = load_checkpoint(trained, None, mesh)
    params = state.ema_params if state.ema_params is not None else state.params  # EvalConfig.use_ema
    single = policies.ModelPolicy(train_config, params, {}, samples=2, num_steps=2, batch_size=4,
                                  rank_candidates=3)
    np.testing.assert_array_equal(original(single, rows), samples[:, :3])
    assert not np.allclose(samples[:, 3:], samples[:, :2])  # the same weights, another key
    longer = train_config.model.replace(max_text_len=train_config.model.max_text_len + 1)
    with pytest.raises(ValueError, match="ensemble member 1: model.max_text_len"):
        policies.ModelPolicy(train_config, params, {},
                             ensemble=((dataclasses.replace(train_config, model=longer), params),))
    with pytest.raises(ValueError, match="cannot be shared among 2 ensemble members"):
        policies.ModelPolicy(train_config, params, {}, samples=1, ensemble=((train_config, params),))
