"""The main job end to end at toy size: dataset -> training -> simulated evaluation -> HTML report."""
import json
import os
import textwrap

import pytest

from launch import demo

CONFIG = textwrap.dedent('''
    from configs.data import tiny
    from tests.toy_budget import toy_budget


    def get_config(arg=None):
        c = tiny.get_config(arg)
        c.categories = ("bottle",)
        c.unseen_categories = ()
        c.unseen_category_fraction = 0.0
        return toy_budget(c)
''')


def test_demo_writes_the_report(tmp_path):
    config = tmp_path / "data_config.py"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    assert demo.main(["--out", str(out), "--data-config", str(config), "--steps", "4", "--samples", "1", "--views", "1",
                      "--rank-candidates", "0", "--no-refine", "--no-ddpm", "--no-progress"]) == 0
    page = (out / "report.html").read_text()
    # What the system is for leads: lifted grasps, the model's table, then quality, curves, the stages' pictures.
    order = ("Predicted grasps that lifted the object", "Model: tabletop-lift evaluation", "Dataset quality",
             "Training", "Objects with their semantic parts", "Rendered RGB-D observations")
    assert all(f">{heading}<" in page for heading in order)
    positions = [page.index(f">{heading}<") for heading in order]
    assert positions == sorted(positions)
    assert page.count("data:image/png;base64,") >= 4
    timings = json.loads((out / "timings.json").read_text())
    stages = ("dataset_s", "training_s", "evaluation_s", "report_s")
    assert all(timings[k] > 0 for k in stages) and timings["total_s"] >= sum(timings[k] for k in stages)
    # The figures, not only the headings: one bottle (parts body + cap), wrap synthesised only, 4 poses per part.
    stats = json.loads((out / "dataset" / "statistics.json").read_text())
    (wrap,) = [row for row in stats["quality"] if row["mode"] == "wrap"]
    assert wrap["synthesised"] == 8 and 0 < wrap["kept (sim)"] <= wrap["synthesised"]
    assert 0 <= wrap["penetration_mm"] < 1e3 and 0 <= wrap["q1"]
    result = json.loads((out / "eval_flow" / "eval_results.json").read_text())
    cov = result["coverage"]
    # 2 parts x the evaluation's 2 modes; pinch was never synthesised, so at least those 2 are skipped
    assert cov["conditions"] == 4 and cov["evaluated"] + cov["skipped"] == 4 and 1 <= cov["evaluated"] <= 2
    trials = cov["evaluated"] * 1  # --samples 1, one view
    assert result["summary"]["all"]["trials"] == len(result["trials"]) == trials
    for baseline in ("retrieval", "retrieval_yaw_unknown"):  # both baselines on the same conditions
        assert result[baseline]["summary"]["all"]["trials"] == trials
        assert f"{baseline} success" in page  # side by side with the model in the report
    for summary in (result["summary"]["all"], result["retrieval"]["summary"]["all"]):
        assert 0.0 <= summary["pga"] <= summary["pta"] <= 1.0 and 0.0 <= summary["success_rate"] <= 1.0


def test_demo_verify_reaches_the_evaluation_config(tmp_path, monkeypatch):
    seen = {}

    def capture(workdir, config, out_dir, dataset):
        seen.update(config=config, out_dir=out_dir, dataset=dataset)
        return {"table": ""}

    monkeypatch.setattr(demo, "evaluate_checkpoint", capture)
    demo.evaluate_model(str(tmp_path), "W", "flow", 4, 128, True, 1.0, 4, verify=64)
    assert seen["config"].verify and seen["config"].verify_candidates == 64
    assert seen["config"].rank_candidates == 128 and seen["config"].temperature == 1.0
    assert seen["out_dir"] == os.path.join(str(tmp_path), "eval_flow_verified")  # not the ranked run's folder
    demo.evaluate_model(str(tmp_path), "W", "flow", 4, 128, True, 0.25, 4)
    assert not seen["config"].verify and seen["out_dir"] == os.path.join(str(tmp_path), "eval_flow")


def test_demo_rejects_a_verify_count_outside_samples_and_candidates(capsys):
    for bad in (["--verify", "200"], ["--verify", "2", "--samples", "4"]):
        with pytest.raises(SystemExit) as stop:
            demo.main(["--out", "unused"] + bad)
        assert stop.value.code == 2
        assert "--verify must lie between --samples and --rank-candidates" in capsys.readouterr().err
