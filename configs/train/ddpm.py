"""Ablation: the DDPM head (epsilon prediction, cosine betas, ancestral sampling) with everything else equal to
the flow-matching config it is compared with (same network, data, batch, steps and optimiser).

    python -m launch.train --config configs/train/ddpm.py --workdir /tmp/dexvlg_tiny_ddpm          # tiny, CPU
    python -m launch.train --config configs/train/ddpm.py:base=paligemma_3b,data=DIR --workdir ...

arg keys: base (tiny | paligemma_3b) and every key of that base config's arg.
"""
from configs.args import ConfigArgError
from configs.train import paligemma_3b, tiny

HEAD = "ddpm"


def get_config(arg=None):
    items = [item for item in (arg or "").split(",") if item]
    base = next((item.split("=", 1)[1] for item in items if item.startswith("base=")), "tiny")
    rest = ",".join(item for item in items if not item.startswith("base="))
    bases = {"tiny": tiny, "paligemma_3b": paligemma_3b}
    if base not in bases:
        raise ConfigArgError(f"base={base}", [f"base={b}" for b in sorted(bases)])
    c = bases[base].get_config(rest or None)
    c.model.head = HEAD
    return c
