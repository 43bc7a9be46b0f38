"""Model evaluation config (tabletop lift in simulation, on the run's dataset) for a tiny checkpoint on CPU; see
dexvlg_jax.eval.EvalConfig for every field's meaning and default.

    config, protocol, scene = to_dataclasses(get_config())
    evaluate_checkpoint(WORKDIR, config, out_dir=OUT, protocol=protocol, scene_config=scene)

arg: "" (every dataset object, both modes, 2 parts, K=4, the retrieval baseline beside the model, full
tabletop-lift phases) or "smoke" (1 object per split, 1 part, K=2, the short phases of configs/eval/sim.py:tiny).
"""
import dataclasses

import ml_collections

from configs.args import check_arg
from configs.eval import sim as sim_config
from dexvlg_jax.eval import EvalConfig


def get_config(arg=None):
    smoke = check_arg(arg, ("", "smoke")) == "smoke"
    c = ml_collections.ConfigDict()
    defaults = {f.name: getattr(EvalConfig(), f.name) for f in dataclasses.fields(EvalConfig)}
    c.eval = ml_collections.ConfigDict({k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()})
    for name in ("max_parts", "num_steps", "objects_per_split"):  # None by default: typed references
        c.eval[name] = ml_collections.FieldReference(defaults[name], field_type=int)
    c.eval.max_parts = 1 if smoke else 2
    if smoke:
        c.eval.objects_per_split = 1
    c.eval.samples = 2 if smoke else 4
    c.sim = sim_config.get_config("tiny" if smoke else None)
    c.sim.protocol = "tabletop_lift"
    return c


def to_dataclasses(c):
    """ConfigDict -> (EvalConfig, TabletopLiftConfig, SceneConfig) for `evaluate_checkpoint`."""
    fields = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in c.eval.to_dict().items()}
    scene, protocol = sim_config.to_dataclasses(c.sim)
    return EvalConfig(**fields), protocol, scene
