"""Issue 13's overfit test: on 4 synthetic records (random images, depth and tokens; distinct, valid target grasps
with dataset-like normalisation), the project's train step drives the tiny flow DexVLG's SAMPLES to within 1 cm and
5 deg of their own targets.

Measured on the shared 2-core CPU (2026-11): 5,000 steps at batch 4 (lr 3e-3, warmup 20, cosine) reach a median
sample error of 3.0 mm / 1.3 deg (worst of 32 samples 13.6 mm / 3.5 deg); 1,500 steps are not enough (13 mm /
5.6 deg). ~45 s of steps plus 60-90 s of compilation there: marked slow (run with --runslow).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.geometry.rotations import rot6d_to_matrix
from dexvlg_jax.hand import load_hand
from dexvlg_jax.models.variants import get_variant
from dexvlg_jax.models.vlg import DexVLG, fake_batch
from dexvlg_jax.train.optimizer import OptimizerConfig, make_optimizer
from dexvlg_jax.train.state import TrainState
from dexvlg_jax.train.step import train_step

RECORDS, STEPS, SAMPLES = 4, 5000, 8


def grasp_targets(rng: np.random.Generator, n: int) -> np.ndarray:
    """n valid poses: translation within +-10 cm, uniform random rotation (6D), joints uniform within limits."""
    h = load_hand()
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]  # Haar-uniform orthogonal
    q[:, :, 2] *= np.sign(np.linalg.det(q))[:, None]  # proper rotation
    return np.c_[rng.uniform(-0.1, 0.1, (n, 3)), q[:, :, 0], q[:, :, 1],
                 rng.uniform(h.joint_lower, h.joint_upper, (n, 16))].astype(np.float32)


def errors(poses: np.ndarray, targets: np.ndarray):
    """Translation error (m) and rotation geodesic angle (deg) of samples (N, K, 25) to targets (N, 25)."""
    trans = np.linalg.norm(poses[..., :3] - targets[:, None, :3], axis=-1)
    rot = np.asarray(rot6d_to_matrix(jnp.asarray(poses[..., 3:9])), np.float64)
    rot_t = np.asarray(rot6d_to_matrix(jnp.asarray(targets[:, 3:9])), np.float64)
    cos = (np.einsum("nkij,nij->nk", rot, rot_t) - 1.0) / 2.0
    return trans, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.slow
def test_training_drives_samples_onto_their_targets():
    h = load_hand()
    mean = np.r_[np.zeros(3), 1, 0, 0, 0, 1, 0, (h.joint_lower + h.joint_upper) / 2]
    std = np.r_[np.full(3, 0.1), np.full(6, 0.5), (h.joint_upper - h.joint_lower) / 4]
    config = get_variant("tiny", head="flow", pose_mean=tuple(mean.tolist()), pose_std=tuple(std.tolist()))
    model = DexVLG(config)
    batch = fake_batch(config, batch_size=RECORDS, seed=5)
    targets = grasp_targets(np.random.default_rng(0), RECORDS)
    batch["pose"] = targets
    pairwise = np.linalg.norm(targets[:, None, :3] - targets[None, :, :3], axis=-1)[~np.eye(RECORDS, dtype=bool)]
    assert pairwise.min() > 0.03  # distinct targets: a mean pose cannot pass

    opt_config = OptimizerConfig(learning_rate=3e-3, warmup_steps=20, total_steps=STEPS, ema_decay=None,
                                 weight_decay=0.0)
    params = jax.jit(model.init)(jax.random.key(0))
    optimizer = make_optimizer(opt_config, params)
    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params),
                       ema_params=None, rng=jax.random.key_data(jax.random.key(1)))
    step = jax.jit(lambda s, b: train_step(model.compute_loss, optimizer, opt_config, s, b))
    losses = []
    for _ in range(STEPS):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
    obs = {k: v for k, v in batch.items() if k != "pose"}
    poses = np.asarray(jax.jit(model.sample_poses, static_argnames=("num_steps", "num_samples"))(
        state.params, jax.random.key(2), obs, num_steps=10, num_samples=SAMPLES))
    trans, angle = errors(poses, targets)
    assert np.mean(losses[-100:]) < 0.1 * np.mean(losses[:20]), (np.mean(losses[:20]), np.mean(losses[-100:]))
    # every record's median sample within 1 cm and 5 deg; most samples individually too
    assert np.all(np.median(trans, 1) < 0.01), trans
    assert np.all(np.median(angle, 1) < 5.0), angle
    assert np.mean((trans < 0.01) & (angle < 5.0)) >= 0.75, (trans, angle)
