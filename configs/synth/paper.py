"""Grasp synthesis config (DexGraspNet 3.0 data engine).

    python -m launch.synthesize --config configs/synth/paper.py --out grasps/            # paper-like
    python -m launch.synthesize --config configs/synth/paper.py:tiny --out /tmp/g        # CPU, minutes

arg: "" = paper-like (5000 poses per part and mode, DexGraspNet's 6000 annealing iterations and schedule);
"tiny" / "runlocal" = a CPU run that finishes in minutes (32 poses per part and mode, 800 iterations with the
annealing schedule compressed to the budget, 1 object per category of 4 categories).
Defaults come from the dataclasses in
dexvlg_jax.grasp (InitConfig, EnergyWeights, EnergyConfig, OptimizerConfig, FilterConfig, SynthConfig): each
number is defined there once; only the variants override. Layout: SynthConfig's own fields under `synth`, its
parts beside it (`init`, `energy` + `weights`, `optimizer`, `filter`); `dexvlg_jax.config_files.synth_config` builds
the SynthConfig.
"""
import ml_collections

from configs.args import check_arg
from dexvlg_jax.config_convert import config_dict
from dexvlg_jax.grasp import EnergyConfig, EnergyWeights, FilterConfig, InitConfig, OptimizerConfig, SynthConfig

TINY_INIT = dict(num_per_part=32)
TINY_OPT = dict(num_iters=800, step_period=20, temperature_period=13)
TINY = dict(batch_size=64)
PAPER_INIT = dict(num_per_part=5000)
PAPER = dict(batch_size=1024)


def _fields(cls, skip=(), **overrides):
    c = config_dict(cls, skip)
    c.update(overrides)
    return c


def get_config(arg=None):
    tiny = check_arg(arg, ("", "tiny", "runlocal")) in ("tiny", "runlocal")
    c = ml_collections.ConfigDict()
    c.init = _fields(InitConfig, **(TINY_INIT if tiny else PAPER_INIT))
    c.energy = _fields(EnergyConfig, skip=("weights", "mode"))
    c.weights = _fields(EnergyWeights)
    c.optimizer = _fields(OptimizerConfig, **(TINY_OPT if tiny else {}))
    c.filter = _fields(FilterConfig)
    c.synth = _fields(SynthConfig, skip=("init", "energy", "optimizer", "filter"), **(TINY if tiny else PAPER))
    # Which objects: launch's --objects embedded uses these; a folder of meshes ignores them.
    c.objects = ml_collections.ConfigDict()
    c.objects.num_per_category = 1
    c.objects.categories = ["mug", "bottle", "hammer", "screwdriver"] if tiny else []  # [] = all categories
    c.objects.seed = 0
    return c
