"""DexVLG at full size: PaliGemma 3B (SigLIP So400m/14 @224 + Gemma 2B) + 300M pose expert, flow matching.

Hardware: a TPU v4-32 / v5p-32 pod slice (16 chips, 4 hosts) or one 8-GPU host (H100/A100 80 GB).
- Mesh: (data, fsdp) = (1, all devices): every parameter above 4 MiB is FSDP-sharded (3.3B float32 params +
  2 Adam moments + EMA = ~53 GB in all, ~3.3 GB per device on 16 chips, ~6.6 GB on 8 GPUs).
- Precision: float32 parameters and optimiser state, bfloat16 compute (model.dtype).
- Memory: every SigLIP and Gemma layer is rematerialised (model.remat_policy "nothing_saveable"). Measured: one
  H200 fits only 8 examples with every activation stored (1.8 GB each beside 74 GB of state; README, benchmarks/),
  so 16 per 32 GB TPU v4 chip would not fit; XLA's memory analysis of the loss gradient (CPU, 3B shapes) gives
  7.4 GiB per example stored and 0.19 GiB rematerialised. `--set model.remat_policy=none` turns it off.
- Batch: 256 global (16 per chip on 16 chips, 32 per GPU on 8), 50k steps (~13M examples), AdamW lr 5e-5 peak,
  1k warmup steps, cosine to 10%, clip 1.0, weight decay 1e-4, EMA 0.9999.
- The SigLIP tower is frozen (`img/.*`), the Gemma decoder, depth encoder and pose expert train.
- pretrained: pass a big_vision `pt_224.npz` (or an HF safetensors dir) with `--set pretrained=PATH`.

    python -m launch.train --config configs/train/paligemma_3b.py:data=gs://BUCKET/dexvlg_data \
        --workdir gs://BUCKET/runs/dexvlg_3b --set pretrained=/path/paligemma-3b-pt-224.npz

arg keys: head (flow|ddpm|ddim), data (dataset directory), batch, steps, freeze_llm (also freeze `llm/.*`).
"""
from configs.train.common import base_config, parse_arg


def get_config(arg=None):
    a = parse_arg(arg, head="flow", data="", batch=256, steps=50_000, freeze_llm=False)
    c = base_config()
    c.model.variant = "dexvlg_3b"
    c.model.head = a.head
    c.model.dtype = "bfloat16"
    c.model.remat_policy = "nothing_saveable"
    c.optimizer.learning_rate = 5e-5
    c.optimizer.warmup_steps = 1000
    c.optimizer.ema_decay = 0.9999
    c.optimizer.frozen = ("img/.*", "llm/.*") if a.freeze_llm else ("img/.*",)
    c.data.path = a.data or None
    c.data.worker_count = 8
    c.data.read_threads = 16  # the paper-scale dataset does not fit the decoded-example cache: decode ahead
    c.batch_size = a.batch
    c.num_steps = a.steps
    c.log_every = 50
    c.checkpoint_every = 1000
    return c
