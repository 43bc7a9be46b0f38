"""The HTML report of a whole run (`launch.demo`): dataset quality, objects with their parts, kept grasps, RGB-D
observations, model evaluation tables and pictures, training loss. Reads what the run's stages wrote: a dataset
directory (`data.pipeline` layout: `cache/objects`, `cache/grasps`, `*.array_record`), training workdirs
(`train.metrics`) and evaluation results (`eval`)."""
from __future__ import annotations

import glob
import os

import numpy as np
from array_record.python.array_record_module import ArrayRecordReader
from matplotlib.figure import Figure  # no pyplot: no global backend state, works headless

from dexvlg_jax import objects
from dexvlg_jax.data.schema import decode_record
from dexvlg_jax.eval import tables
from dexvlg_jax.eval.policies import RETRIEVAL_NAMES
from dexvlg_jax.eval.tables import picture_name
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.train.metrics import read_metrics
from dexvlg_jax.viz.grasp_pictures import draw_grasp, draw_object
from dexvlg_jax.viz.report import Report


def object_pictures(dataset: str, pictures: str) -> list[tuple[str, str]]:
    """One PNG per processed object of the dataset, coloured by semantic part; returns [(path, caption)]."""
    out = []
    for path in sorted(glob.glob(os.path.join(dataset, "cache", "objects", "*.npz"))):
        obj = objects.load_processed(path)
        png = draw_object(os.path.join(pictures, f"object_{obj.name}.png"), obj)
        parts = ", ".join(f"{n} ({c})" for n, c in zip(obj.part_names, obj.part_classes))
        out.append((png, f"{obj.name}: {parts}"))
    return out


def kept_grasp_pictures(dataset: str, pictures: str, per_object: int = 2) -> list[tuple[str, str]]:
    """The lowest-energy kept grasps (valid and passing the dataset's simulation filter) of every object."""
    out = []
    for path in sorted(glob.glob(os.path.join(dataset, "cache", "grasps", "*.npz"))):
        g = grasp_io.load_grasps(path)
        obj = objects.load_processed(os.path.join(os.path.dirname(path), g["object"]))
        kept = np.flatnonzero(g["valid"] & g["sim_success"])
        for i in kept[np.argsort(g["energy"][kept])][:per_object]:
            png = draw_grasp(os.path.join(pictures, f"grasp_{obj.name}_{i}.png"), obj, g["poses"][i], size=260)
            out.append((png, f"{obj.name} {g['mode'][i]} on {g['part_name'][i]}: pen {g['pen_mm'][i]:.1f} mm, "
                             f"Q1 {g['q1'][i]:.3f}"))
    return out


def observation_pictures(dataset: str, pictures: str, count: int = 4) -> list[tuple[str, str]]:
    """RGB | depth | part mask of the first record of each object, up to `count` objects (shards in name order)."""
    out, drawn = [], set()
    for shard in sorted(glob.glob(os.path.join(dataset, "*.array_record"))):
        reader = ArrayRecordReader(shard)
        records = [decode_record(b) for b in reader.read(list(range(reader.num_records())))]
        reader.close()
        for rec in records:
            if rec.object_id in drawn or len(out) >= count:
                continue
            drawn.add(rec.object_id)
            fig = Figure(figsize=(7.5, 2.6))
            axes = fig.subplots(1, 3)
            axes[0].imshow(rec.rgb)
            axes[1].imshow(np.where(rec.depth > 0, rec.depth, np.nan), cmap="viridis")
            axes[2].imshow(np.where(rec.part_mask >= 0, rec.part_mask, np.nan), cmap="tab10", vmin=0, vmax=9)
            for ax, title in zip(axes, ("RGB", "depth (m)", "part mask")):
                ax.set_title(title, fontsize=9)
                ax.axis("off")
            fig.tight_layout()
            png = os.path.join(pictures, f"observation_{rec.object_id}.png")
            fig.savefig(png, dpi=100)
            out.append((png, f'{rec.object_id}: "{rec.instruction}"'))
        if len(out) >= count:
            break
    return out


def lifted_pictures(results: dict, count: int = 4) -> list[tuple[str, dict, str]]:
    """[(picture, trial, head)]: up to `count` evaluation pictures (`eval.tables.grasp_pictures` names) of trials
    that succeeded, over the heads' results."""
    out = []
    for head, result in results.items():
        for trial in result.get("trials", []):
            match = [p for p in result.get("pictures", []) if os.path.basename(p) == picture_name(trial)]
            if trial.get("success") and match and len(out) < count:
                out.append((match[0], trial, head))
    return out


def loss_plot(path: str, workdirs: dict) -> str:
    """Training loss per step (log scale) of each {label: training workdir}, one line each, plus its learning
    curves when the run logged them (`curve_loss/<split>`: fixed batches of the train and held-out splits, markers),
    as a PNG."""
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    for label, workdir in workdirs.items():
        metrics = read_metrics(workdir)
        rows = [r for r in metrics if "loss" in r]
        line, = ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label=label, alpha=0.6)
        names = sorted({k for r in metrics for k in r if k.startswith("curve_loss/")})
        for name, marker in zip(names, "os^v"):
            curve = [r for r in metrics if name in r]
            ax.plot([r["step"] for r in curve], [r[name] for r in curve], marker=marker, color=line.get_color(),
                    linestyle="--" if name != "curve_loss/train" else "-",
                    label=f"{label}: {name.split('/', 1)[1]} (fixed batches)")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def write_run_report(out: str, stats: dict, results: dict, workdirs: dict, timings: dict) -> str:
    """OUT/report.html from OUT/dataset (+ its `data.statistics` `stats`), the evaluation `results` and training
    `workdirs` per head, and stage `timings`; pictures go to OUT/pictures. Returns the report's path.

    Order: what the system is for first (predicted grasps that lifted, the model beside the baselines), then the
    dataset's quality, the learning curves and timings, then the pictures of each stage."""
    dataset, pictures = os.path.join(out, "dataset"), os.path.join(out, "pictures")
    os.makedirs(pictures, exist_ok=True)
    report = Report("dexvlg_jax demo: data engine, DexVLG training and simulated evaluation")
    lifted = lifted_pictures(results)
    shown = observation_pictures(dataset, pictures, count=1000)  # one per object, drawn once
    observations = {os.path.basename(png)[len("observation_"):-len(".png")]: png for png, _ in shown}
    report.section("Predicted grasps that lifted the object", "The model's sample (hand + object, object frame) "
                   "beside a rendered RGB-D observation of the same object from the dataset." if lifted else
                   "No predicted grasp lifted its object in this run's evaluation (see the tables below).")
    for png, trial, head in lifted:
        report.text(f'{head}: "{trial["instruction"]}" ({trial["object"]}, {trial["mode"]} on {trial["part"]})')
        report.image(png, "predicted grasp", width=240)
        if trial["object"] in observations:
            report.image(observations[trial["object"]], "observation (dataset view)", width=480)
    report.section("Model: tabletop-lift evaluation", "Success: the object rises with the hand and stays in hand. "
                   "PTA: any hand-object contact on the instructed part. PGA: success and most contacts on it.")
    for head, result in results.items():
        report.text(f"{head} head (checkpoint step {result['step']}):")
        report.table([{"rows": k, **v} for k, v in result["summary"].items()])
        baselines = {name: result[name]["summary"] for name in RETRIEVAL_NAMES.values() if name in result}
        if baselines:
            report.text("Success and PGA beside the retrieval baselines on the same conditions ('retrieval' is "
                        "given the object's true pose; 'retrieval_yaw_unknown' does not know which way the object "
                        "faces: the image-free one):")
            report.table(tables.comparison_rows({"model": result["summary"], **baselines}))
    report.section("Dataset quality", "Kept grasps = valid after synthesis filters and passing the simulation "
                   "filter. Paper (DexVLG, wrap / pinch): penetration 1.75 / 1.42 mm, self-penetration "
                   "0.19 / 0.22 mm, Q1 0.085 / 0.067.")
    report.table(stats["quality"])
    report.table([{"split": k, "records": v} for k, v in sorted(stats["counts"]["split"].items())])
    for png in stats["files"]:
        report.image(png, os.path.splitext(os.path.basename(png))[0], width=900 if png.endswith("counts.png") else 420)
    report.section("Training")
    loss_png = loss_plot(os.path.join(pictures, "training_loss.png"), workdirs)
    report.image(loss_png, f"training loss ({' vs '.join(workdirs)})", width=480)
    report.table([{"stage": k, "seconds": round(v, 1)} for k, v in timings.items()])
    report.section("Objects with their semantic parts")
    for png, caption in object_pictures(dataset, pictures):
        report.image(png, caption, width=220)
    report.section("Synthesised grasps (kept)")
    for png, caption in kept_grasp_pictures(dataset, pictures):
        report.image(png, caption, width=220)
    report.section("Rendered RGB-D observations")
    for png, caption in shown[:4]:
        report.image(png, caption, width=480)
    report.section("Predicted grasps")
    for head, result in results.items():
        for png in result.get("pictures", []):
            report.image(png, f"{head}: {os.path.basename(png)}", width=240)
    return report.write(os.path.join(out, "report.html"))
