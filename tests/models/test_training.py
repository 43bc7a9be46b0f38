"""Tiny overfit problems: flow matching learns observation-conditioned targets; DDPM/DDIM train and sample.

The DDPM/DDIM samplers are also checked exactly against an analytic epsilon oracle (a single data point, where the
optimal eps is known in closed form), independent of any network.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dexvlg_jax.models import diffusion
from dexvlg_jax.models.variants import get_variant
from dexvlg_jax.models.vlg import DexVLG, fake_batch


def _train(model, params, batch, steps, learning_rate):
    optimizer = optax.adamw(learning_rate, weight_decay=1e-4)

    @jax.jit
    def step(params, opt_state, rng):
        (loss, _), grads = jax.value_and_grad(model.compute_loss, has_aux=True)(params, rng, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state, losses = optimizer.init(params), []
    for i in range(steps):
        params, opt_state, loss = step(params, opt_state, jax.random.fold_in(jax.random.key(1), i))
        losses.append(float(loss))
    return params, np.array(losses)


def _obs(batch):
    return {k: v for k, v in batch.items() if k != "pose"}


def test_flow_matching_overfits_and_samples_land_on_targets(tiny_params):
    model = DexVLG(get_variant("tiny", head="flow"))
    params = tiny_params
    batch = fake_batch(model.config, batch_size=4, seed=3)
    params, losses = _train(model, params, batch, steps=500, learning_rate=3e-3)
    assert losses[-20:].mean() < 0.4 * losses[:20].mean(), (losses[:20].mean(), losses[-20:].mean())
    poses = jax.jit(model.sample_poses, static_argnames=("num_steps", "num_samples"))(
        params, jax.random.key(2), _obs(batch), num_steps=10, num_samples=8)
    targets = batch["pose"]
    error = np.abs(np.asarray(poses) - targets[:, None]).mean()
    other_targets = np.abs(targets[:, None] - targets[None])[~np.eye(4, dtype=bool)].mean()
    assert error < 0.5 * other_targets, (error, other_targets)


def test_diffusion_heads_train_and_sample(tiny_params):
    """DDPM and DDIM share training (epsilon MSE); both samplers run on the trained network."""
    model = DexVLG(get_variant("tiny", head="ddpm"))
    batch = fake_batch(model.config, batch_size=4, seed=3)
    params, losses = _train(model, tiny_params, batch, steps=300, learning_rate=3e-3)
    # Epsilon-MSE on 4 poses is noisy step to step: compare window means.
    assert losses[-50:].mean() < 0.6 * losses[:20].mean(), (losses[:20].mean(), losses[-50:].mean())
    for head in ("ddpm", "ddim"):
        sampler = DexVLG(model.config.replace(head=head))
        poses = np.asarray(jax.jit(sampler.sample_poses, static_argnames=("num_steps", "num_samples"))(
            params, jax.random.key(2), _obs(batch), num_steps=10, num_samples=4))
        assert poses.shape == (4, 4, 25) and np.all(np.isfinite(poses)), head
        assert np.abs(poses).max() <= 4.0 + 1e-4, head  # x0 clipping bounds the result (unit statistics)


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("eta,num_steps", [(1.0, 40), (1.0, 8), (0.0, 8)])
def test_diffusion_sampler_with_analytic_oracle(schedule, eta, num_steps):
    target = jnp.array([[0.7, -1.5, 2.0]])
    abar = jnp.asarray(diffusion.alphas_cumprod(schedule, 40), jnp.float32)

    def optimal_eps(x, t):  # data = one point: eps = (x - sqrt(abar) x*) / sqrt(1 - abar)
        a = abar[jnp.round(t * 40).astype(int)][:, None]
        return (x - jnp.sqrt(a) * target) / jnp.sqrt(1.0 - a)

    noise = jax.random.normal(jax.random.key(0), (5, 3))
    samples = diffusion.diffusion_sample(jax.random.key(1), optimal_eps, noise, schedule, 40, num_steps, eta)
    np.testing.assert_allclose(samples, jnp.broadcast_to(target, (5, 3)), atol=1e-4)


def test_flow_euler_with_analytic_oracle():
    target = jnp.array([[0.7, -1.5, 2.0]])

    def optimal_velocity(x, t):  # x_t = t noise + (1 - t) x*  =>  v = noise - x* = (x - x*) / t
        return (x - target) / t[:, None]

    noise = jax.random.normal(jax.random.key(0), (5, 3))
    np.testing.assert_allclose(diffusion.euler_sample(optimal_velocity, noise, 10), jnp.broadcast_to(target, (5, 3)),
                               atol=1e-5)
    t = diffusion.sample_flow_time(jax.random.key(3), (20000,))
    assert 0.001 <= float(t.min()) and float(t.max()) <= 1.0
    np.testing.assert_allclose(float(t.mean()), 0.999 * 0.6 + 0.001, atol=0.01)  # Beta(1.5, 1) mean = 0.6
