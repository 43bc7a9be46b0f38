"""DexVLG top level: losses and grasp sampling over a parameter pytree.

Batch dict (numpy or jax arrays; B observations, L = max text length, H = W = config.image_size):

    image       (B, H, W, 3) float32, RGB in [-1, 1]
    depth       (B, H, W)    float32, metres along the optical axis; <= 0 or non-finite = no reading
    intrinsics  (B, 3, 3)    float32, pinhole K in pixels (OpenCV convention, see depth_encoder.py)
    tokens      (B, L)       int32, [BOS] instruction "\\n" then padding (dexvlg_jax.data.tokenizer)
    token_mask  (B, L)       bool, True on real tokens
    pose        (B, 25)      float32, RAW grasp pose in the camera frame: wrist translation (3, metres),
                             wrist rotation 6D (first two columns of R, column-major: R[:,0], R[:,1]),
                             16 LEAP joint angles (radians, Menagerie order); training only

`pose` is normalised inside with `config.pose_mean / pose_std`; `sample_poses` returns raw poses.
Everything except `pose` is the observation (`obs`).

Usage:
    model = DexVLG(get_variant("tiny"))
    params = model.init(jax.random.key(0))
    loss, metrics = jax.jit(model.compute_loss)(params, rng, batch)
    poses = jax.jit(model.sample_poses, static_argnames=("num_steps", "num_samples"))(params, rng, obs,
                                                                                      num_steps=10, num_samples=8)
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from dexvlg_jax.models import diffusion
from dexvlg_jax.models.network import DexVLGNet
from dexvlg_jax.models.variants import POSE_DIM, DexVLGConfig

OBS_KEYS = ("image", "depth", "intrinsics", "tokens", "token_mask")


def fake_batch(config: DexVLGConfig, batch_size: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """A well-formed random batch (tabletop-like depth 0.5-1.0 m, f = image size) for tests and eval_shape."""
    rng = np.random.default_rng(seed)
    size, length = config.image_size, config.max_text_len
    intrinsics = np.array([[size, 0, size / 2], [0, size, size / 2], [0, 0, 1]], np.float32)
    lengths = rng.integers(3, length + 1, batch_size)
    token_mask = np.arange(length)[None] < lengths[:, None]
    tokens = np.where(token_mask, rng.integers(4, config.vlm.llm.vocab_size, (batch_size, length)), 0)
    tokens[:, 0] = 2  # BOS
    return {
        "image": rng.uniform(-1, 1, (batch_size, size, size, 3)).astype(np.float32),
        "depth": rng.uniform(0.5, 1.0, (batch_size, size, size)).astype(np.float32),
        "intrinsics": np.broadcast_to(intrinsics, (batch_size, 3, 3)).copy(),
        "tokens": tokens.astype(np.int32),
        "token_mask": token_mask,
        "pose": (np.asarray(config.pose_mean) + np.asarray(config.pose_std)
                 * rng.normal(size=(batch_size, POSE_DIM))).astype(np.float32),
    }


def _obs_args(obs: dict[str, Any]) -> tuple:
    missing = [k for k in OBS_KEYS if k not in obs]
    if missing:
        raise KeyError(f"DexVLG: observation is missing {missing}; expected keys {OBS_KEYS}")
    return tuple(jnp.asarray(obs[k]) for k in OBS_KEYS)


class DexVLG:
    """The model: a `DexVLGNet` flax module plus the loss and sampler for `config.head`."""

    def __init__(self, config: DexVLGConfig):
        self.config = config
        self.net = DexVLGNet(config)

    # ----- parameters -----
    def init(self, rng) -> dict:
        """Fresh float32 parameters (random); merge a PaliGemma checkpoint with `weights.merge_pretrained`."""
        batch = fake_batch(self.config, batch_size=1)
        args = _obs_args(batch) + (jnp.asarray(batch["pose"]), jnp.ones((1,), jnp.float32))
        return self.net.init(rng, *args, method=DexVLGNet.init_all)["params"]

    def param_shapes(self) -> dict:
        return jax.eval_shape(self.init, jax.random.key(0))

    def normalize(self, pose: Float[Array, "... 25"]) -> Float[Array, "... 25"]:
        mean, std = (jnp.asarray(v, jnp.float32) for v in (self.config.pose_mean, self.config.pose_std))
        return (pose - mean) / std

    def denormalize(self, pose: Float[Array, "... 25"]) -> Float[Array, "... 25"]:
        mean, std = (jnp.asarray(v, jnp.float32) for v in (self.config.pose_mean, self.config.pose_std))
        return pose * std + mean

    # ----- training -----
    def compute_loss(self, params, rng, batch: dict[str, Any]) -> tuple[Float[Array, ""], dict]:
        """Loss of the configured head on one batch: flow-matching velocity MSE, or DDPM epsilon MSE.

        The prefix is encoded once and shared by the loss's noisy poses (training uses the same cached path as
        sampling): `config.noise_samples` noisy poses (flow times / diffusion steps) per example, the loss their
        mean. Returns (scalar loss, metrics dict).
        """
        c = self.config
        obs = _obs_args(batch)
        x = self.normalize(jnp.asarray(batch["pose"], jnp.float32))
        kv, prefix_valid = self.net.apply({"params": params}, *obs, method=DexVLGNet.encode_prefix)
        if c.noise_samples > 1:  # rows b * M + m: example b's m-th noisy pose
            kv = jax.tree.map(lambda a: jnp.repeat(a, c.noise_samples, axis=1), kv)
            prefix_valid = jnp.repeat(prefix_valid, c.noise_samples, axis=0)
            x = jnp.repeat(x, c.noise_samples, axis=0)

        def predict(noisy, t):
            return self.net.apply({"params": params}, kv, prefix_valid, noisy, t, method=DexVLGNet.denoise_cached)

        if c.head == "flow":
            loss = diffusion.flow_matching_loss(rng, predict, x)
        else:
            loss = diffusion.diffusion_loss(rng, predict, x, c.beta_schedule, c.diffusion_timesteps)
        return loss, {"loss": loss}

    # ----- sampling -----
    def sample_poses(self, params, rng, obs: dict[str, Any], num_steps: int | None = None, num_samples: int = 1,
                     use_cache: bool = True, temperature: float = 1.0) -> Float[Array, "B G 25"]:
        """Draws `num_samples` grasp hypotheses per observation, raw poses (B, G, 25) in the camera frame.

        `temperature` scales the starting noise (1: the trained distribution; below 1: samples drawn towards its
        modes, the usual low-temperature trade of diversity for typicality).

        With `use_cache` (default) the prefix runs once and its per-layer K/V is repeated G times along the batch
        and reused at every step; without it every step recomputes the whole network (reference path).
        `num_steps` defaults to `config.default_steps` (flow, ddim) or `config.diffusion_timesteps` (ddpm).
        """
        c = self.config
        obs = _obs_args(obs)
        batch = obs[0].shape[0]
        if num_steps is None:
            num_steps = c.diffusion_timesteps if c.head == "ddpm" else c.default_steps
        noise_rng, sample_rng = jax.random.split(rng)
        noise = temperature * jax.random.normal(noise_rng, (batch * num_samples, POSE_DIM), jnp.float32)

        if use_cache:
            kv, prefix_valid = self.net.apply({"params": params}, *obs, method=DexVLGNet.encode_prefix)
            kv = jax.tree.map(lambda a: jnp.repeat(a, num_samples, axis=1), kv)
            prefix_valid = jnp.repeat(prefix_valid, num_samples, axis=0)

            def predict(noisy, t):
                return self.net.apply({"params": params}, kv, prefix_valid, noisy, t,
                                      method=DexVLGNet.denoise_cached)
        else:
            repeated = tuple(jnp.repeat(a, num_samples, axis=0) for a in obs)

            def predict(noisy, t):
                return self.net.apply({"params": params}, *repeated, noisy, t, method=DexVLGNet.denoise_joint)

        if c.head == "flow":
            x = diffusion.euler_sample(predict, noise, num_steps)
        else:
            eta = 1.0 if c.head == "ddpm" else 0.0
            x = diffusion.diffusion_sample(sample_rng, predict, noise, c.beta_schedule, c.diffusion_timesteps,
                                           num_steps, eta)
        return self.denormalize(x).reshape(batch, num_samples, POSE_DIM)


def param_count(tree) -> int:
    """Number of scalars in a parameter tree (arrays or ShapeDtypeStructs)."""
    return int(sum(np.prod(leaf.shape) for leaf in jax.tree.leaves(tree)))
