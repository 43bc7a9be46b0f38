"""Initial state: PaliGemma-style pretrained weights (a big_vision .npz of the `img` tower) are merged into the
sharded parameters, EMA starts from them, and a shape mismatch is a clear error."""
import jax
import numpy as np
import pytest

from dexvlg_jax.models import weights
from dexvlg_jax.models.vlg import DexVLG
from dexvlg_jax.train import sharding
from dexvlg_jax.train.loop import load_pretrained
from dexvlg_jax.train.state import init_train_state
from tests.train.conftest import tiny_train_config


def test_pretrained_img_tower_is_loaded(tmp_path):
    config = tiny_train_config()
    model = DexVLG(config.model)
    mesh = sharding.make_mesh(config.fsdp)
    other = jax.device_get(model.init(jax.random.key(123)))  # "pretrained" weights: a different seed
    path = str(tmp_path / "pt.npz")
    weights.save_npz(path, {"img": other["img"]})
    pretrained = load_pretrained(path, config.model)
    state, _, _ = init_train_state(model.init, config.optimizer, config.seed, mesh, config.min_fsdp_bytes,
                                   pretrained)
    params, ema = jax.device_get(state.params), jax.device_get(state.ema_params)
    for a, b, c in zip(jax.tree.leaves(params["img"]), jax.tree.leaves(other["img"]), jax.tree.leaves(ema["img"])):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, b)
    fresh = jax.device_get(model.init(jax.random.split(jax.random.key(config.seed))[0]))
    for a, b in zip(jax.tree.leaves(params["llm"]), jax.tree.leaves(fresh["llm"])):
        np.testing.assert_array_equal(a, b)  # everything else keeps the seeded initialisation

    bad = {"img": jax.tree.map(lambda x: np.zeros(x.shape[:-1] + (x.shape[-1] + 1,), x.dtype), other["img"])}
    weights.save_npz(path, bad)
    with pytest.raises(ValueError, match="has shape"):
        init_train_state(model.init, config.optimizer, config.seed, mesh, config.min_fsdp_bytes,
                         load_pretrained(path, config.model))
    with pytest.raises(FileNotFoundError):
        load_pretrained(str(tmp_path / "missing.npz"), config.model)
