"""Ablation: the DDIM head (trained exactly as DDPM; deterministic sampling with `model.default_steps` steps).
Same args as ddpm.py (base=tiny|paligemma_3b plus that base's keys)."""
from configs.train import ddpm


def get_config(arg=None):
    c = ddpm.get_config(arg)
    c.model.head = "ddim"
    return c
