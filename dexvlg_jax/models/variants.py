"""Model variants as frozen dataclasses: the full DexVLG (PaliGemma 3B + 300M pose expert) and a CPU-sized tiny.

`DexVLGConfig` is the one place the model's hyperparameters live; `launch/` and `configs/` convert their
ConfigDicts to it (`get_variant(name, **overrides)`).
"""
from __future__ import annotations

import dataclasses

from dexvlg_jax.hand.constants import POSE_DIM  # translation (3, camera frame) + rot6d (6) + 16 joints: hand/pose.py
from dexvlg_jax.models.gemma import GEMMA_300M_EXPERT, REMAT_POLICIES, GemmaConfig
from dexvlg_jax.models.paligemma import PALIGEMMA_3B_224, PaliGemmaConfig
from dexvlg_jax.models.siglip import SiglipConfig

HEADS = ("flow", "ddpm", "ddim")
# Instruction length L in tokens ([BOS] + instruction + separator). The longest instruction the templates make
# (`data.instructions`, train and eval sets, every library noun and part name) is 37 tokens with the embedded
# tokenizer (`data.tokenizer`; e.g. "squeeze the foot of the bucket between thumb and index finger"): 40 leaves
# none truncated (16 truncated 42% of training instructions). tests/eval/test_instruction_length.py checks it.
INSTRUCTION_TOKENS = 40


@dataclasses.dataclass(frozen=True)
class DexVLGConfig:
    """Everything that shapes the DexVLG model.

    Attributes:
      vlm: PaliGemma (SigLIP + Gemma) shape.
      expert: the pose expert (a Gemma without embedder); depth, num_heads, num_kv_heads and head_dim must equal
        the VLM's so both attend jointly per layer.
      depth_hidden: hidden width of the depth patch encoder.
      num_pose_tokens: pose tokens per hypothesis (the pose vector is projected to this many expert tokens and
        read back from all of them).
      max_text_len: instruction length L (tokens incl. BOS and separator): training and evaluation tokenise to it
        (longer instructions are truncated; INSTRUCTION_TOKENS fits every template).
      head: "flow" (flow matching, Euler), "ddpm" (ancestral) or "ddim" (deterministic); ddpm/ddim share training.
      diffusion_timesteps, beta_schedule: the DDPM/DDIM schedule ("cosine" or "linear").
      default_steps: sampling steps when none are given (flow / ddim); ddpm defaults to `diffusion_timesteps`.
      pose_mean, pose_std: per-dimension dataset statistics (25); the model works on (pose - mean) / std.
      dtype: compute dtype ("float32" or "bfloat16"); parameters stay float32.
      noise_samples: noisy poses per example in the training loss (flow times / diffusion steps with their noise),
        sharing the example's encoded prefix: more targets per step for the cost of the small pose expert only.
      remat_policy: activation rematerialisation of every SigLIP and Gemma layer in training ("none" or a
        `jax.checkpoint_policies` name of `gemma.REMAT_POLICIES`): same outputs and gradients, less memory per
        example, more compute. The parameter tree does not change, so checkpoints load either way.
    """

    vlm: PaliGemmaConfig
    expert: GemmaConfig
    depth_hidden: int = 512
    num_pose_tokens: int = 4
    max_text_len: int = INSTRUCTION_TOKENS
    head: str = "flow"
    diffusion_timesteps: int = 100
    beta_schedule: str = "cosine"
    default_steps: int = 10
    pose_mean: tuple = (0.0,) * POSE_DIM
    pose_std: tuple = (1.0,) * POSE_DIM
    dtype: str = "float32"
    noise_samples: int = 1
    remat_policy: str = "none"

    def __post_init__(self):
        llm, expert = self.vlm.llm, self.expert
        for field in ("depth", "num_heads", "num_kv_heads", "head_dim"):
            if getattr(llm, field) != getattr(expert, field):
                raise ValueError(f"DexVLGConfig: expert.{field}={getattr(expert, field)} must equal the VLM's "
                                 f"{getattr(llm, field)} (attention is shared per layer)")
        if self.head not in HEADS:
            raise ValueError(f"DexVLGConfig: head={self.head!r} is not one of {HEADS}")
        if self.noise_samples < 1:
            raise ValueError(f"DexVLGConfig: noise_samples must be >= 1, got {self.noise_samples}")
        if self.remat_policy not in REMAT_POLICIES:
            raise ValueError(f"DexVLGConfig: remat_policy={self.remat_policy!r} is not one of {REMAT_POLICIES}")
        if len(self.pose_mean) != POSE_DIM or len(self.pose_std) != POSE_DIM:
            raise ValueError(f"DexVLGConfig: pose_mean/pose_std need {POSE_DIM} values, got "
                             f"{len(self.pose_mean)}/{len(self.pose_std)}")
        if min(self.pose_std) <= 0:
            raise ValueError(f"DexVLGConfig: pose_std must be positive, got min {min(self.pose_std)}")

    @property
    def image_size(self) -> int:
        return self.vlm.vision.image_size

    @property
    def prefix_len(self) -> int:
        """Image tokens + depth tokens + text tokens."""
        return 2 * self.vlm.vision.num_tokens + self.max_text_len

    def replace(self, **changes) -> "DexVLGConfig":
        return dataclasses.replace(self, **changes)


DEXVLG_3B = DexVLGConfig(vlm=PALIGEMMA_3B_224, expert=GEMMA_300M_EXPERT)

TINY_VOCAB = 640  # the embedded instruction tokenizer's vocabulary (dexvlg_jax/data/assets/instructions.model)
DEXVLG_TINY = DexVLGConfig(
    vlm=PaliGemmaConfig(
        vision=SiglipConfig(width=32, depth=2, mlp_dim=64, num_heads=2, patch_size=8, image_size=32, out_dim=64),
        llm=GemmaConfig(width=64, depth=2, mlp_dim=128, num_heads=2, num_kv_heads=1, head_dim=16,
                        vocab_size=TINY_VOCAB)),
    expert=GemmaConfig(width=32, depth=2, mlp_dim=64, num_heads=2, num_kv_heads=1, head_dim=16, vocab_size=0),
    depth_hidden=32, num_pose_tokens=2, max_text_len=INSTRUCTION_TOKENS, diffusion_timesteps=50)

# The tiny network reading 64 px images (64 image + 64 depth tokens of 8 px patches instead of 16 + 16): with the
# data engine's object framing (`scene.cameras`) the object covers most of a 64 px render, so each token sees a
# few centimetres of it. The demo's variant (launch/demo.py).
DEXVLG_TINY_64 = dataclasses.replace(
    DEXVLG_TINY, vlm=dataclasses.replace(DEXVLG_TINY.vlm,
                                         vision=dataclasses.replace(DEXVLG_TINY.vlm.vision, image_size=64)))

# Twice the tiny network's widths (head_dim 32; 545k parameters against 168k): the CPU learning benchmark's variant
# (configs/train/learning.py; measured there: seen objects lifted 64-69% against 58% after 20,000 vs 30,000 steps).
DEXVLG_SMALL_64 = dataclasses.replace(
    DEXVLG_TINY_64,
    vlm=dataclasses.replace(
        DEXVLG_TINY_64.vlm,
        vision=dataclasses.replace(DEXVLG_TINY_64.vlm.vision, width=64, mlp_dim=128, out_dim=128),
        llm=dataclasses.replace(DEXVLG_TINY_64.vlm.llm, width=128, mlp_dim=256, head_dim=32)),
    expert=dataclasses.replace(DEXVLG_TINY_64.expert, width=64, mlp_dim=128, head_dim=32), depth_hidden=64)

# small_64 with 4 layers instead of 2 in the vision tower, the LLM and the pose expert (932k parameters; half the
# training steps per second on a 2-core CPU, ~5.5 against ~11): on the learning benchmark (one training seed, 20,000
# steps, instruction noise, `:ranked`) it lifted 75.9% of seen-object trials (2.10x the image-free baseline;
# small_64: 70.6%, 1.95x) but 42.4% of unseen instances (1.28x; small_64: 47.6%): docs/experiments.md, "Four
# layers".
DEXVLG_SMALL_64_D4 = dataclasses.replace(
    DEXVLG_SMALL_64,
    vlm=dataclasses.replace(DEXVLG_SMALL_64.vlm, vision=dataclasses.replace(DEXVLG_SMALL_64.vlm.vision, depth=4),
                            llm=dataclasses.replace(DEXVLG_SMALL_64.vlm.llm, depth=4)),
    expert=dataclasses.replace(DEXVLG_SMALL_64.expert, depth=4))

VARIANTS = {"dexvlg_3b": DEXVLG_3B, "tiny": DEXVLG_TINY, "tiny_64": DEXVLG_TINY_64, "small_64": DEXVLG_SMALL_64,
            "small_64_d4": DEXVLG_SMALL_64_D4}


def get_variant(name: str, **overrides) -> DexVLGConfig:
    """A named variant with field overrides, e.g. `get_variant("tiny", head="ddim", dtype="bfloat16")`."""
    if name not in VARIANTS:
        raise KeyError(f"get_variant: unknown variant {name!r}; known: {sorted(VARIANTS)}")
    return dataclasses.replace(VARIANTS[name], **overrides)
