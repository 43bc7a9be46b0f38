"""Peak FLOP/s of known accelerators and the DexVLG FLOP count used for MFU estimates.

MFU = (model FLOPs per step / step time) / (peak dense bf16 FLOP/s per device x devices). Model FLOPs of a train
step: 6 x sum over modules of (matmul parameters x tokens the module processes) per example (forward 2, backward
4 FLOPs per parameter per token); every parameter's gradient is computed (frozen groups are zeroed by the
optimiser after the gradient), so frozen modules count 6 too. Embedding tables (lookups, not matmuls) are left
out, and so are attention's score and value products (about +5% at DexVLG's 544-token prefix): the estimate is
slightly low. Sampling: 2 x parameters x tokens per forward.
"""
from __future__ import annotations

import jax
import numpy as np

# Dense (no sparsity) bf16 peak FLOP/s per device, from the vendors' data sheets.
PEAK_BF16_FLOPS = {
    "H200": 989e12,       # NVIDIA H200 SXM (same tensor cores as H100 SXM)
    "H100 PCIe": 756e12,
    "H100": 989e12,       # NVIDIA H100 SXM
    "A100": 312e12,
    "L4": 121e12,
    "TPU v5p": 459e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v4": 275e12,
    "TPU v6": 918e12,
}


def peak_flops(device_kind: str) -> float | None:
    """Peak dense bf16 FLOP/s of one device of this kind (first table key contained in the name), else None."""
    for key, value in PEAK_BF16_FLOPS.items():
        if key.lower() in device_kind.lower():
            return value
    return None


def _is_embedding(path) -> bool:
    text = jax.tree_util.keystr(path)
    return "embedder" in text or "pos_embedding" in text


def model_flops_per_example(config, param_shapes) -> dict:
    """Train and forward FLOPs per example of a DexVLG (`config`: DexVLGConfig, `param_shapes`: its param tree).

    Tokens per module: SigLIP ("img") and the depth encoder ("depth") one per image patch, the Gemma decoder
    ("llm") the whole prefix (image + depth + text), the pose expert and the pose/time projections
    `num_pose_tokens` per noisy pose (training draws one noisy pose per example).
    """
    patches = config.vlm.vision.num_tokens
    tokens = {"img": patches, "depth": patches, "llm": config.prefix_len}
    per_module, forward = {}, 0.0
    for name, subtree in param_shapes.items():
        count = sum(int(np.prod(leaf.shape)) for path, leaf in jax.tree_util.tree_leaves_with_path(subtree)
                    if not _is_embedding(path))
        t = tokens.get(name, config.num_pose_tokens)
        per_module[name] = {"matmul_params": count, "tokens": t}
        forward += 2.0 * count * t
    return {"train_flops": 3.0 * forward, "forward_flops": forward, "modules": per_module,
            "formula": "train = 6 x sum_m(matmul params_m x tokens_m) per example; embeddings and attention "
                       "score/value products excluded"}
