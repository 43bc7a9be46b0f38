"""Learning curves: the training loss on fixed batches of a split, for the train split and a held-out one.

`FixedBatchLoss(config, model, mesh, split)` reads the first `config.heldout_batches` batches of `split` once (no
shuffle, host memory), and `__call__(state)` returns the mean loss over them with fixed noise keys, so that two calls
on the same parameters give the same figure and a curve over steps shows learning, not sampling noise. It scores the
EMA parameters when the state keeps them (what evaluation samples with), else the raw ones. The loop logs it as
`curve_loss/<split>` for the train split and `config.heldout_split` every `config.heldout_every` steps.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dexvlg_jax.data.source import DecodeRecord, ResizeCrop, TokenizeInstruction, make_data_loader
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.train import sharding as sharding_lib
from dexvlg_jax.train.input_pipeline import MODEL_KEYS, ToModelInputs

HELDOUT_SEED = 1234  # the noise keys of the held-out loss (fixed across calls and runs)


@functools.lru_cache(maxsize=4)
def _jitted_loss(model):
    """The model's jitted loss, one per model object: the train-split and held-out curves share one compilation
    (~3 s for the tiny model on a 2-core CPU)."""
    return jax.jit(lambda params, rng, batch: model.compute_loss(params, rng, batch)[0])


class FixedBatchLoss:
    """Mean loss of `model` on fixed batches of `split` (global batch `config.batch_size` each)."""

    def __init__(self, config, model, mesh, split: str):
        data = config.data
        if data.path is None:
            raise ValueError("FixedBatchLoss: learning curves need a dataset (data.path), not synthetic records")
        local_batch = config.batch_size // jax.process_count()
        operations = [DecodeRecord(), ResizeCrop(model.config.image_size),
                      TokenizeInstruction(Tokenizer(data.tokenizer_path), model.config.max_text_len),
                      ToModelInputs()]
        loader = make_data_loader(data.path, local_batch, operations, seed=0, num_epochs=1, shuffle=False,
                                  split=split)
        self.batches = []
        for batch in loader:
            self.batches.append({k: batch[k] for k in MODEL_KEYS})
            if len(self.batches) == config.heldout_batches:
                break
        if not self.batches:
            raise ValueError(f"FixedBatchLoss: split {split!r} of {data.path} has fewer than "
                             f"{local_batch} records (one batch)")
        self.mesh = mesh
        self._loss = _jitted_loss(model)

    def __call__(self, state) -> float:
        params = state.ema_params if state.ema_params is not None else state.params
        losses = []
        for i, batch in enumerate(self.batches):
            rng = jax.random.fold_in(jax.random.key(HELDOUT_SEED), i)
            losses.append(self._loss(params, rng, sharding_lib.shard_batch(batch, self.mesh)))
        return float(np.mean(jax.device_get(jnp.stack(losses))))
