"""Generative heads over normalised pose vectors: flow matching (the model's head) and DDPM/DDIM (the ablation).

All functions are network-agnostic: `predict(x_t, t)` is any callable returning the network output for noisy
poses x_t (N, 25) at times t (N,) in [0, 1]. Time convention (pi0): t = 1 is pure noise, t = 0 data.

Flow matching: t ~ Beta(1.5, 1) * 0.999 + 0.001, x_t = t * noise + (1 - t) * x, target u = noise - x,
loss = mean squared error; sampling integrates dx/dt = v from t = 1 to t = 0 with `num_steps` Euler steps.

Diffusion (same network, epsilon prediction): N training timesteps k = 1..N with a cosine (Nichol & Dhariwal) or
linear (Ho et al., betas scaled by 1000 / N) schedule; the network sees t = k / N. x_k = sqrt(abar_k) x +
sqrt(1 - abar_k) eps. Sampling walks a sub-sequence of timesteps with the generalised DDIM update: eta = 1 is
ancestral DDPM sampling (exactly DDPM when all N steps are used), eta = 0 deterministic DDIM.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

Predictor = Callable[[Float[Array, "N A"], Float[Array, "N"]], Float[Array, "N A"]]


def sample_flow_time(rng, shape) -> Float[Array, "..."]:
    """pi0's flow time distribution: Beta(1.5, 1) * 0.999 + 0.001 (more mass near t = 1, noise)."""
    return jax.random.beta(rng, 1.5, 1.0, shape) * 0.999 + 0.001


def flow_matching_loss(rng, predict: Predictor, x: Float[Array, "N A"]) -> Float[Array, ""]:
    """Mean squared error between predicted and target velocity (noise - x) at random flow times."""
    noise_rng, time_rng = jax.random.split(rng)
    noise = jax.random.normal(noise_rng, x.shape, x.dtype)
    t = sample_flow_time(time_rng, x.shape[:1])
    x_t = t[:, None] * noise + (1.0 - t[:, None]) * x
    velocity = predict(x_t, t)
    return jnp.mean(jnp.square(velocity.astype(jnp.float32) - (noise - x)))


def euler_sample(predict: Predictor, noise: Float[Array, "N A"], num_steps: int) -> Float[Array, "N A"]:
    """Integrates from t = 1 (noise) to t = 0 with `num_steps` Euler steps of size 1 / num_steps."""
    dt = -1.0 / num_steps

    def step(x, i):
        t = jnp.full(x.shape[:1], 1.0 + i * dt, jnp.float32)
        return x + dt * predict(x, t).astype(x.dtype), None

    x, _ = jax.lax.scan(step, noise, jnp.arange(num_steps))
    return x


def alphas_cumprod(schedule: str, num_timesteps: int) -> np.ndarray:
    """abar_k for k = 0..N (abar_0 = 1), float64 numpy. `schedule` is "cosine" or "linear"."""
    if schedule == "cosine":
        s = 0.008
        steps = np.arange(num_timesteps + 1, dtype=np.float64) / num_timesteps
        f = np.cos((steps + s) / (1 + s) * np.pi / 2) ** 2
        betas = np.clip(1 - f[1:] / f[:-1], 0.0, 0.999)
    elif schedule == "linear":
        scale = 1000.0 / num_timesteps
        betas = np.linspace(1e-4 * scale, 0.02 * scale, num_timesteps, dtype=np.float64)
    else:
        raise ValueError(f"alphas_cumprod: unknown schedule {schedule!r} (expected 'cosine' or 'linear')")
    return np.concatenate([[1.0], np.cumprod(1.0 - betas)])


def diffusion_loss(rng, predict: Predictor, x: Float[Array, "N A"], schedule: str, num_timesteps: int
                   ) -> Float[Array, ""]:
    """Epsilon-prediction MSE at uniformly drawn timesteps k in 1..N."""
    abar = jnp.asarray(alphas_cumprod(schedule, num_timesteps), jnp.float32)
    noise_rng, step_rng = jax.random.split(rng)
    eps = jax.random.normal(noise_rng, x.shape, x.dtype)
    k = jax.random.randint(step_rng, x.shape[:1], 1, num_timesteps + 1)
    a = abar[k][:, None]
    x_k = jnp.sqrt(a) * x + jnp.sqrt(1.0 - a) * eps
    eps_hat = predict(x_k, k.astype(jnp.float32) / num_timesteps)
    return jnp.mean(jnp.square(eps_hat.astype(jnp.float32) - eps))


def diffusion_sample(rng, predict: Predictor, noise: Float[Array, "N A"], schedule: str, num_timesteps: int,
                     num_steps: int, eta: float, x0_clip: float = 4.0) -> Float[Array, "N A"]:
    """Generalised DDIM sampler over `num_steps` evenly spaced timesteps (eta = 1 DDPM, eta = 0 DDIM).

    The predicted clean pose is clipped to +-`x0_clip` (normalised units, i.e. standard deviations) at each step,
    as DDPM does for images: at the noisiest steps abar ~ 0 and x0 = (x - sqrt(1 - abar) eps) / sqrt(abar)
    otherwise amplifies any error in eps without bound.
    """
    abar = alphas_cumprod(schedule, num_timesteps)
    steps = np.unique(np.round(np.linspace(num_timesteps, 1, num_steps)).astype(int))[::-1]
    prev = np.concatenate([steps[1:], [0]])
    table = jnp.asarray(np.stack([steps / num_timesteps, abar[steps], abar[prev]], axis=1), jnp.float32)

    def step(x, scanned):
        (t, a, a_prev), key = scanned
        eps = predict(x, jnp.full(x.shape[:1], t)).astype(x.dtype)
        x0 = jnp.clip((x - jnp.sqrt(1.0 - a) * eps) / jnp.sqrt(a), -x0_clip, x0_clip)
        eps = (x - jnp.sqrt(a) * x0) / jnp.sqrt(1.0 - a)  # consistent with the clipped x0
        sigma = eta * jnp.sqrt((1.0 - a_prev) / (1.0 - a) * (1.0 - a / a_prev))
        direction = jnp.sqrt(jnp.maximum(1.0 - a_prev - sigma ** 2, 0.0)) * eps
        x = jnp.sqrt(a_prev) * x0 + direction + sigma * jax.random.normal(key, x.shape, x.dtype)
        return x, None

    keys = jax.random.split(rng, len(steps))
    x, _ = jax.lax.scan(step, noise, ((table[:, 0], table[:, 1], table[:, 2]), keys))
    return x


def sincos_time_embedding(t: Float[Array, "N"], dim: int, min_period: float = 4e-3, max_period: float = 4.0
                          ) -> Float[Array, "N dim"]:
    """pi0's sine-cosine embedding of a scalar time, periods geometrically spaced in [min_period, max_period]."""
    if dim % 2:
        raise ValueError(f"sincos_time_embedding: dim={dim} must be even")
    fraction = jnp.linspace(0.0, 1.0, dim // 2)
    period = min_period * (max_period / min_period) ** fraction
    angles = t[:, None].astype(jnp.float32) * (2 * jnp.pi / period)[None]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
