"""DexVLG model stage.

PaliGemma (SigLIP So400m/14 + Gemma 2B) in flax.linen with big_vision's parameter tree; checkpoint import from
big_vision .npz and HF transformers safetensors; an RGB-D prefix (image, depth and text tokens); a pi0-style pose
expert trained with flow matching (or DDPM/DDIM for the ablation) with prefix-KV-cached sampling.

Public API:
    DexVLG, fake_batch, param_count                 model wrapper: init, compute_loss, sample_poses (vlg.py)
    DexVLGConfig, get_variant, DEXVLG_3B, DEXVLG_TINY, POSE_DIM      variants (variants.py)
    DexVLGNet                                       the flax module (network.py)
    PaliGemma, PaliGemmaConfig, PALIGEMMA_3B_224    the VLM alone (paligemma.py)
    SigLIP, SiglipConfig, SO400M_14_224             vision tower (siglip.py)
    Gemma, GemmaConfig, GEMMA_2B, GEMMA_300M_EXPERT, prefix_lm_mask, run_layers     decoder (gemma.py)
    DepthEncoder, backproject_depth                 depth tokens (depth_encoder.py)
    load_npz, save_npz, load_hf_paligemma, check_shapes, merge_pretrained            checkpoints (weights.py)
"""
from dexvlg_jax.models.depth_encoder import DepthEncoder, DepthEncoderConfig, backproject_depth
from dexvlg_jax.models.gemma import GEMMA_2B, GEMMA_300M_EXPERT, Gemma, GemmaConfig, prefix_lm_mask, run_layers
from dexvlg_jax.models.paligemma import PALIGEMMA_3B_224, PaliGemma, PaliGemmaConfig
from dexvlg_jax.models.network import DexVLGNet
from dexvlg_jax.models.siglip import SO400M_14_224, SigLIP, SiglipConfig
from dexvlg_jax.models.variants import DEXVLG_3B, DEXVLG_TINY, POSE_DIM, DexVLGConfig, get_variant
from dexvlg_jax.models.vlg import DexVLG, fake_batch, param_count
from dexvlg_jax.models.weights import check_shapes, load_hf_paligemma, load_npz, merge_pretrained, save_npz

__all__ = [
    "DEXVLG_3B", "DEXVLG_TINY", "GEMMA_2B", "GEMMA_300M_EXPERT", "PALIGEMMA_3B_224", "POSE_DIM", "SO400M_14_224",
    "DepthEncoder", "DepthEncoderConfig", "DexVLG", "DexVLGConfig", "DexVLGNet", "Gemma", "GemmaConfig",
    "PaliGemma", "PaliGemmaConfig", "SigLIP", "SiglipConfig", "backproject_depth", "check_shapes", "fake_batch",
    "get_variant", "load_hf_paligemma", "load_npz", "merge_pretrained", "param_count", "prefix_lm_mask",
    "run_layers", "save_npz",
]
