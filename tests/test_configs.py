"""Every config file's every `get_config(arg)` variant builds into the library's dataclasses (through the one
generic converter, `dexvlg_jax.config_convert`), the files restate no dataclass default, and the converter names
unknown keys with the valid ones."""
import dataclasses
import glob
import os

import ml_collections
import pytest

from dexvlg_jax import config_files
from dexvlg_jax.config_convert import ConfigKeyError, config_dict, to_dataclass
from dexvlg_jax.data.pipeline import DatasetConfig
from dexvlg_jax.eval import EvalConfig
from dexvlg_jax.grasp import SynthConfig
from dexvlg_jax.models.variants import DEXVLG_3B, DEXVLG_TINY
from dexvlg_jax.sim import SceneConfig, SixDirectionConfig, TabletopLiftConfig
from dexvlg_jax.train import TrainConfig
from dexvlg_jax.train.optimizer import OptimizerConfig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every variant each file documents (configs/args.py rejects anything else).
TRAIN_ARGS = [None, "head=ddpm,steps=7,data=/d,batch=4", "head=ddim"]
VARIANTS = {
    "configs/data/coverage.py": [None, "demo", "learning"],
    "configs/data/demo.py": [None],
    "configs/data/learning.py": [None],
    "configs/data/tiny.py": [None],
    "configs/eval/model_tiny.py": [None, "smoke", "ranked", "verified"],
    "configs/eval/sim.py": [None, "tiny"],
    "configs/synth/paper.py": [None, "tiny", "runlocal"],
    "configs/synth/tiny.py": [None, "tiny", "runlocal"],
    "configs/train/tiny.py": TRAIN_ARGS,
    "configs/train/learning.py": ["data=/d", "data=/d,head=ddpm,seed=2,steps=9,batch=4,variant=tiny_64"],
    "configs/train/paligemma_3b.py": [None, "head=ddim,data=/d,batch=16,steps=10,freeze_llm=true"],
    "configs/train/ddpm.py": [None, "base=tiny", "base=tiny,steps=5", "base=paligemma_3b",
                              "base=paligemma_3b,freeze_llm=true"],
    "configs/train/ddim.py": [None, "base=paligemma_3b", "base=tiny,head=flow"],
}


def _build(path: str, config):
    """The file's config -> its dataclasses, by the folder's layout."""
    folder, name = path.split("/")[1:3]
    if folder == "train":
        return [config_files.train_config(config)]
    if folder == "synth":
        return [config_files.synth_config(config)]
    if folder == "data":
        return [config_files.dataset_config(config)]
    if name == "sim.py":
        built = []
        for protocol in ("six_direction", "tabletop_lift"):
            config.protocol = protocol
            built += config_files.sim_configs(config)
        return built
    return list(config_files.eval_configs(config))


def test_every_config_file_is_listed():
    files = sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "configs", "*", "*.py"))
                   if not os.path.basename(p).startswith("_") and not p.endswith("train/common.py"))
    assert files == sorted(VARIANTS)


@pytest.mark.parametrize("path, arg", [(p, a) for p, args in VARIANTS.items() for a in args])
def test_every_variant_builds(path, arg, monkeypatch):
    monkeypatch.chdir(REPO)
    spec = path + (f":{arg}" if arg else "")
    built = _build(path, config_files.load_config_file(spec))
    expected = {"train": [TrainConfig], "synth": [SynthConfig], "data": [DatasetConfig]}.get(path.split("/")[1])
    if path.endswith("sim.py"):
        expected = [SceneConfig, SixDirectionConfig, SceneConfig, TabletopLiftConfig]
    elif path.endswith("model_tiny.py"):
        expected = [EvalConfig, TabletopLiftConfig, SceneConfig]
    assert [type(b) for b in built] == expected
    for b in built:  # tuples all the way down: hashable, as frozen configs are
        hash(b)


def test_train_variants_keep_the_dataclass_and_variant_defaults():
    tiny = config_files.train_config(config_files.load_config_file(os.path.join(REPO, "configs/train/tiny.py")))
    big = config_files.train_config(config_files.load_config_file(
        os.path.join(REPO, "configs/train/paligemma_3b.py")))
    ddpm_big = config_files.train_config(config_files.load_config_file(
        os.path.join(REPO, "configs/train/ddpm.py:base=paligemma_3b")))
    assert tiny.num_steps == 300 and tiny.optimizer.total_steps == 300
    assert tiny.checkpoint_every == TrainConfig.checkpoint_every  # not restated by the config
    assert tiny.model.diffusion_timesteps == DEXVLG_TINY.diffusion_timesteps
    assert big.model.diffusion_timesteps == DEXVLG_3B.diffusion_timesteps  # the variant's, not a base config's
    assert big.model.dtype == "bfloat16" and big.optimizer.total_steps == big.num_steps == 50_000
    assert ddpm_big.model.head == "ddpm" and ddpm_big.model.vlm == DEXVLG_3B.vlm
    assert big.optimizer.b2 == OptimizerConfig.b2 and big.data.num_synthetic == 256


def test_config_files_restate_no_default():
    """A value a config file sets differs from the default it overrides (else it is a second definition)."""
    base = config_files.load_config_file(os.path.join(REPO, "configs/train/tiny.py"))
    defaults = config_dict(TrainConfig, skip=("model", "optimizer.total_steps")).to_dict()
    changed = {k for k, v in base.to_dict().items() if k != "model" and v != defaults[k]}
    assert changed == {"optimizer", "num_steps", "fsdp", "keep_checkpoints"}


def test_converter_nested_tuples_defaults_and_unknown_keys():
    c = ml_collections.ConfigDict({"processing": {"grid_resolution": 20}, "categories": ["mug"],
                                   "tabletop": {"friction": 0.5}})
    cfg = to_dataclass(DatasetConfig, c)
    assert cfg.categories == ("mug",) and cfg.processing.grid_resolution == 20
    assert cfg.processing.grid_padding == DatasetConfig().processing.grid_padding and cfg.tabletop.friction == 0.5
    default = DatasetConfig(image_size=32)
    assert to_dataclass(DatasetConfig, {"seed": 3}, default) == dataclasses.replace(default, seed=3)
    with pytest.raises(ConfigKeyError, match=r"DatasetConfig.processing: unknown key 'grid_resolutoin' \(did you "
                       r"mean 'grid_resolution'\?\); valid keys: .*grid_padding.*grid_resolution"):
        to_dataclass(DatasetConfig, {"processing": {"grid_resolutoin": 3}})
    with pytest.raises(ValueError, match="expected a mapping of ProcessingConfig"):
        to_dataclass(DatasetConfig, {"processing": 3})
    with pytest.raises(ValueError, match="model"):
        to_dataclass(TrainConfig, {"num_steps": 3})  # a required field left out


def test_config_dict_round_trip_and_typed_none_fields():
    c = config_dict(EvalConfig)
    assert set(c) == {f.name for f in dataclasses.fields(EvalConfig)}
    c.max_parts = 3  # a None default takes its annotated type
    with pytest.raises(TypeError):
        c.num_steps = "many"
    assert to_dataclass(EvalConfig, c) == EvalConfig(max_parts=3)
    assert to_dataclass(SynthConfig, config_dict(SynthConfig())) == SynthConfig()
