"""Tiny DexVLG on CPU in minutes: the `tiny` variant (~170k parameters, 32 px images), batch 8, 300 steps.

    python -m launch.train --config configs/train/tiny.py --workdir /tmp/dexvlg_tiny
    python -m launch.train --config configs/train/tiny.py:head=ddpm --workdir /tmp/dexvlg_tiny_ddpm
    python -m launch.train --config configs/train/tiny.py:data=/path/to/dataset --workdir ...

arg keys: head (flow|ddpm|ddim), steps, data (dataset directory; default synthetic records), batch.
"""
from configs.train.common import base_config, parse_arg


def get_config(arg=None):
    a = parse_arg(arg, head="flow", steps=300, data="", batch=8)
    c = base_config()
    c.model.variant = "tiny"
    c.model.head = a.head
    c.optimizer.learning_rate = 1e-3
    c.optimizer.warmup_steps = 20
    c.optimizer.ema_decay = 0.99
    c.data.path = a.data or None
    c.batch_size = a.batch
    c.num_steps = a.steps
    c.fsdp = 1  # data parallel over whatever CPU devices exist; the tiny model is far below the FSDP threshold
    c.keep_checkpoints = 2
    return c
