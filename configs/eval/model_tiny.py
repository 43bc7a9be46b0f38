"""Model evaluation config (tabletop lift in simulation) for a tiny checkpoint on CPU; see
dexvlg_jax.train.evaluate.EvalConfig for every field's meaning and default.

    config, protocol, scene = to_dataclasses(get_config())
    evaluate_checkpoint(WORKDIR, config, out_dir=OUT, protocol=protocol, scene_config=scene)

arg: "" (4 categories, both modes, 2 parts, K=4, full tabletop-lift phases) or "smoke" (1 category, 1 part,
K=2, the short phases of configs/eval/sim.py:tiny).
"""
import dataclasses

import ml_collections

from configs.eval import sim as sim_config
from dexvlg_jax.train.evaluate import EvalConfig


def get_config(arg=None):
    smoke = (arg or "") == "smoke"
    c = ml_collections.ConfigDict()
    defaults = {f.name: getattr(EvalConfig(), f.name) for f in dataclasses.fields(EvalConfig)}
    c.eval = ml_collections.ConfigDict({k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()})
    c.eval.max_parts = ml_collections.FieldReference(defaults["max_parts"], field_type=int)
    c.eval.num_steps = ml_collections.FieldReference(defaults["num_steps"], field_type=int)
    c.eval.categories = ["mug", "bottle", "hammer", "pan"] if not smoke else ["mug"]
    c.eval.max_parts = 1 if smoke else 2
    c.eval.samples = 2 if smoke else 4
    c.sim = sim_config.get_config("tiny" if smoke else None)
    c.sim.protocol = "tabletop_lift"
    return c


def to_dataclasses(c):
    """ConfigDict -> (EvalConfig, TabletopLiftConfig, SceneConfig) for `evaluate_checkpoint`."""
    fields = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in c.eval.to_dict().items()}
    scene, protocol = sim_config.to_dataclasses(c.sim)
    return EvalConfig(**fields), protocol, scene
