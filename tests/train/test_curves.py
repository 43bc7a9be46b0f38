"""Learning curves: with `heldout_split`, the loop logs the loss on fixed batches of the train split and of the
held-out split (EMA parameters, fixed noise): the same parameters give the same figure, the figure is the EMA
parameters' and the held-out batches hold only the held-out split's records."""
import dataclasses
import json
import os

import numpy as np
import pytest

from dexvlg_jax.data import shards, writer
from dexvlg_jax.models.vlg import DexVLG
from dexvlg_jax.train import sharding, train
from dexvlg_jax.train.curves import FixedBatchLoss
from dexvlg_jax.train.input_pipeline import DataConfig
from dexvlg_jax.train.loop import resolve_model_config
from tests.train.conftest import tiny_train_config
from tests.train.test_input_pipeline import _record


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("curves") / "dataset")
    dataset = writer.DatasetWriter(out)
    for first, split, objects in ((0, "train", ["mug_0", "mug_1"]), (100, "test_unseen_instance", ["mug_2"])):
        spec = shards.ShardSpec(name=f"{split}-00000", split=split, object_ids=tuple(objects))
        dataset.write_shard(spec, [_record(o, split, first + 8 * k + i) for k, o in enumerate(objects)
                                   for i in range(8)])
    dataset.update_manifest()
    return out


def test_curves_are_logged_deterministic_and_read_their_split(dataset, tmp_path):
    config = tiny_train_config(num_steps=20, data=DataConfig(path=dataset), heldout_split="test_unseen_instance",
                               heldout_every=10, heldout_batches=2, batch_size=8)
    result = train(config, str(tmp_path / "run"), progress=False)
    with open(os.path.join(tmp_path, "run", "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    curves = [r for r in rows if "curve_loss/train" in r]
    assert [r["step"] for r in curves] == [10, 20]
    assert all(np.isfinite(r["curve_loss/test_unseen_instance"]) for r in curves)

    resolved = dataclasses.replace(config, model=resolve_model_config(config))
    curve = FixedBatchLoss(resolved, DexVLG(resolved.model), sharding.make_mesh(config.fsdp), "train")
    assert len(curve.batches) == 2
    final = curve(result.state)
    assert final == curve(result.state)  # fixed batches and noise: the same parameters give the same figure
    np.testing.assert_allclose(final, curves[-1]["curve_loss/train"], rtol=1e-5)
    assert final == curve(result.state.replace(params=result.state.ema_params, ema_params=None))
    assert final != curve(result.state.replace(ema_params=None))  # 20 steps: EMA and raw parameters differ

    heldout = FixedBatchLoss(resolved, DexVLG(resolved.model), sharding.make_mesh(config.fsdp),
                             "test_unseen_instance")
    expected = {tuple(_record("mug_2", "test_unseen_instance", 100 + i).pose_camera) for i in range(8)}
    assert {tuple(p) for b in heldout.batches for p in b["pose"]} == expected


def test_learning_curves_need_a_dataset(tmp_path):
    config = tiny_train_config(heldout_split="test_unseen_instance")
    with pytest.raises(ValueError, match="learning curves need a dataset"):
        train(config, str(tmp_path / "run"), progress=False)
