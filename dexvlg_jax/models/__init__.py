"""DexVLG model stage: PaliGemma (SigLIP + Gemma, big_vision parameter tree), checkpoint import, RGB-D prefix,
flow-matching / DDPM / DDIM pose heads."""
from dexvlg_jax.models.gemma import GEMMA_2B, GEMMA_300M_EXPERT, Gemma, GemmaConfig, prefix_lm_mask
from dexvlg_jax.models.paligemma import PALIGEMMA_3B_224, PaliGemma, PaliGemmaConfig
from dexvlg_jax.models.siglip import SO400M_14_224, SigLIP, SiglipConfig
from dexvlg_jax.models.weights import check_shapes, load_hf_paligemma, load_npz, merge_pretrained, save_npz
