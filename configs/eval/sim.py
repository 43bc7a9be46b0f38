"""Simulated grasp evaluation config: protocol, backend, physics and protocol parameters.

    python -m launch.evaluate --poses grasps.npz                                  # defaults (C backend)
    python -m launch.evaluate --poses grasps.npz --config configs/eval/sim.py:tiny  # MJX-on-CPU sized

arg: "" (full protocol: timestep 5 ms, DexGraspBench-like durations) or "tiny" (timestep 10 ms, 5 solver
iterations, short phases: what the MJX tests run on CPU). Defaults come from the dataclasses in dexvlg_jax.sim
(SceneConfig, SixDirectionConfig, TabletopLiftConfig): each number is defined there once; only tiny overrides.
"""
import ml_collections

from configs.args import check_arg
from dexvlg_jax.config_convert import config_dict
from dexvlg_jax.config_files import sim_configs
from dexvlg_jax.sim import SceneConfig, SixDirectionConfig, TabletopLiftConfig

TINY_SCENE = dict(timestep=0.01, iterations=5, ls_iterations=8)
TINY_SIX = dict(close_time=0.05, squeeze_time=0.1, settle_time=0.05, force_time=0.2)
TINY_LIFT = dict(settle_time=0.05, approach_time=0.1, close_time=0.1, squeeze_time=0.1, lift_time=0.3, hold_time=0.1)


def _fields(cls, **overrides):
    c = config_dict(cls, skip=("name", "table"))  # a protocol's identity, not a setting
    c.update(overrides)
    return c


def get_config(arg=None):
    tiny = check_arg(arg, ("", "tiny")) == "tiny"
    c = ml_collections.ConfigDict()
    c.protocol = "six_direction"   # or "tabletop_lift"
    c.backend = "c"                # "c" (CPU default) or "mjx"
    c.impl = "jax"                 # mjx only: "jax" or "warp"
    c.nthread = 0                  # c only: 0 = all cores
    c.scene = _fields(SceneConfig, **(TINY_SCENE if tiny else {}))
    c.six_direction = _fields(SixDirectionConfig, **(TINY_SIX if tiny else {}))
    c.tabletop_lift = _fields(TabletopLiftConfig, **(TINY_LIFT if tiny else {}))
    return c


to_dataclasses = sim_configs  # (SceneConfig, protocol config); kept for launch/bench_accelerator.py
