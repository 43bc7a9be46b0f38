"""DexVLG: API shapes, jit/grad/bf16, KV-cache sampling equals full recomputation, real-variant sizes, tokenizer."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.models.depth_encoder import backproject_depth
from dexvlg_jax.models.paligemma import PALIGEMMA_3B_224
from dexvlg_jax.models.variants import DEXVLG_3B, TINY_VOCAB, get_variant
from dexvlg_jax.models.vlg import DexVLG, fake_batch, param_count

SAMPLE = dict(static_argnames=("num_steps", "num_samples", "use_cache"))


def _obs(batch):
    return {k: v for k, v in batch.items() if k != "pose"}


@pytest.fixture(scope="module")
def tiny(tiny_params):
    return DexVLG(get_variant("tiny")), tiny_params


def test_loss_jit_and_grad(tiny):
    model, params = tiny
    batch = fake_batch(model.config, batch_size=2)
    (loss, metrics), grads = jax.jit(jax.value_and_grad(model.compute_loss, has_aux=True))(
        params, jax.random.key(1), batch)
    assert loss.shape == () and np.isfinite(loss)
    assert metrics["loss"] == loss
    leaves = jax.tree.leaves(grads)
    assert all(np.all(np.isfinite(g)) for g in leaves)
    # Gradient reaches every part: vision, depth, LLM layers, expert.
    for key in ("img", "depth", "llm", "pose_expert", "pose_in", "pose_out"):
        assert any(np.abs(g).sum() > 0 for g in jax.tree.leaves(grads[key])), key


@pytest.mark.parametrize("head,num_steps", [("flow", 4), ("ddim", 4)])
def test_cached_sampling_equals_full_recomputation(tiny, head, num_steps):
    base, params = tiny
    model = DexVLG(base.config.replace(head=head))
    batch = fake_batch(model.config, batch_size=2, seed=5)
    batch["token_mask"][1, 4:] = False  # ragged instructions: positions after the prefix must still agree
    batch["depth"][0, :8, :8] = 0.0     # a depth hole -> an invalid depth token
    sample = jax.jit(model.sample_poses, **SAMPLE)
    cached = sample(params, jax.random.key(3), _obs(batch), num_steps=num_steps, num_samples=3)
    full = sample(params, jax.random.key(3), _obs(batch), num_steps=num_steps, num_samples=3, use_cache=False)
    assert cached.shape == (2, 3, 25)
    np.testing.assert_allclose(cached, full, atol=1e-5, rtol=1e-5)
    assert np.abs(np.asarray(cached[:, 0] - cached[:, 1])).max() > 1e-3  # hypotheses differ


def test_temperature_scales_the_starting_noise(tiny):
    """temperature 1 is the default sampler; a flow sample is a deterministic map of its starting noise, so at a
    temperature near 0 every hypothesis of an observation starts at (almost) the same point and they coincide."""
    base, params = tiny
    batch = _obs(fake_batch(base.config, batch_size=1, seed=7))
    sample = jax.jit(base.sample_poses, static_argnames=("num_steps", "num_samples", "temperature"))
    default = sample(params, jax.random.key(4), batch, num_steps=3, num_samples=4)
    np.testing.assert_array_equal(default, sample(params, jax.random.key(4), batch, num_steps=3, num_samples=4,
                                                  temperature=1.0))
    cold = np.asarray(sample(params, jax.random.key(4), batch, num_steps=3, num_samples=4, temperature=1e-4))
    warm_spread = np.ptp(np.asarray(default)[0], axis=0).max()
    assert np.ptp(cold[0], axis=0).max() < 1e-3 * warm_spread


def test_bfloat16_runs(tiny):
    _, params = tiny
    model = DexVLG(get_variant("tiny", dtype="bfloat16"))
    batch = fake_batch(model.config, batch_size=2)
    loss, _ = jax.jit(model.compute_loss)(params, jax.random.key(1), batch)
    poses = jax.jit(model.sample_poses, **SAMPLE)(params, jax.random.key(2), _obs(batch), num_steps=3, num_samples=2)
    assert np.isfinite(loss) and poses.dtype == jnp.float32 and np.all(np.isfinite(poses))


def test_pose_statistics_round_trip():
    mean = tuple(np.linspace(-1, 1, 25))
    std = tuple(np.linspace(0.1, 2, 25))
    model = DexVLG(get_variant("tiny", pose_mean=mean, pose_std=std))
    pose = jnp.asarray(fake_batch(model.config)["pose"])
    np.testing.assert_allclose(model.denormalize(model.normalize(pose)), pose, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="pose_std"):
        get_variant("tiny", pose_std=(0.0,) * 25)


def test_config_rejects_mismatched_expert():
    with pytest.raises(ValueError, match="expert.depth"):
        get_variant("tiny", expert=get_variant("tiny").expert.__class__(
            width=32, depth=3, mlp_dim=64, num_heads=2, num_kv_heads=1, head_dim=16, vocab_size=0))


def test_backprojection_is_pinhole_inverse():
    depth = jnp.full((1, 4, 6), 2.0).at[0, 1, 2].set(-1.0)
    k = jnp.array([[[10.0, 0, 3.0], [0, 20.0, 2.0], [0, 0, 1]]])
    points, valid = backproject_depth(depth, k)
    assert not valid[0, 1, 2] and valid.sum() == 23
    u, v = 5, 3
    np.testing.assert_allclose(points[0, v, u], [(u - 3.0) * 2 / 10, (v - 2.0) * 2 / 20, 2.0])
    projected = (k[0] @ points[0, v, u]) / points[0, v, u, 2]
    np.testing.assert_allclose(projected[:2], [u, v], atol=1e-6)


def test_real_variant_parameter_counts(capsys):
    full = param_count(DexVLG(DEXVLG_3B).param_shapes())
    shapes = DexVLG(DEXVLG_3B).param_shapes()
    vlm = param_count({"img": shapes["img"], "llm": shapes["llm"]})
    assert vlm == 2_923_335_408
    assert shapes["pose_expert"]["layers"]["attn"]["q_einsum"]["w"].shape == (18, 8, 1024, 256)
    with capsys.disabled():
        print(f"\nDexVLG-3B parameters: {full:,} (PaliGemma {vlm:,}; depth encoder "
              f"{param_count(shapes['depth']):,}; pose expert + heads {full - vlm - param_count(shapes['depth']):,})")
    assert PALIGEMMA_3B_224.llm.vocab_size == 257_152


def test_real_variant_traces_loss_and_sampling():
    model = DexVLG(DEXVLG_3B.replace(dtype="bfloat16"))
    shapes = model.param_shapes()
    batch = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), fake_batch(model.config, batch_size=1))
    loss, _ = jax.eval_shape(model.compute_loss, shapes, jax.random.key(0), batch)
    poses = jax.eval_shape(lambda p, o: model.sample_poses(p, jax.random.key(1), o, num_steps=2, num_samples=3),
                           shapes, _obs(batch))
    assert loss.shape == () and poses.shape == (1, 3, 25)


def test_tokenizer_conventions():
    tok = Tokenizer()
    assert tok.vocab_size == TINY_VOCAB == get_variant("tiny").vlm.llm.vocab_size
    tokens, mask = tok.encode("grasp the mug by the handle", max_len=16)
    assert tokens.dtype == np.int32 and tokens.shape == (16,)
    assert tokens[0] == tok.bos_id == 2
    length = int(mask.sum())
    assert tok.decode(tokens[:length]) == "grasp the mug by the handle"
    assert tokens[length - 1] == tok._sp.piece_to_id("\n")
    assert np.all(tokens[length:] == tok.pad_id)
    words = ("pinch", "wrap", "spray", "bottle", "kettle", "screwdriver", "flashlight", "handle", "trigger", "spout")
    for word in words:  # vocabulary words are single pieces
        assert len(tok._sp.encode(" " + word)) == 1, word
    batch_tokens, batch_mask = tok.encode(["hold the pan", "x" * 100], max_len=8)
    assert batch_tokens.shape == (2, 8) and batch_mask[1].all()
    assert batch_tokens[1, -1] == tok._sp.piece_to_id("\n")  # truncation keeps the separator
    assert len(open(tok.model_path, "rb").read()) < 1_000_000


@pytest.mark.parametrize("head", ["flow", "ddpm"])
def test_noise_samples_equal_repeating_each_example(tiny, head):
    # M noisy poses per example share its prefix: the loss equals the single-sample loss on a batch where each
    # example appears M times in a row (same key: the same noise and times are drawn for the B * M rows).
    _, params = tiny
    batch = fake_batch(get_variant("tiny"), batch_size=3, seed=5)
    repeated = {k: np.repeat(v, 4, axis=0) for k, v in batch.items()}
    shared = DexVLG(get_variant("tiny", head=head, noise_samples=4)).compute_loss(params, jax.random.key(7), batch)
    single = DexVLG(get_variant("tiny", head=head)).compute_loss(params, jax.random.key(7), repeated)
    np.testing.assert_allclose(shared[0], single[0], rtol=1e-5)
    other = DexVLG(get_variant("tiny", head=head)).compute_loss(params, jax.random.key(7), batch)
    assert abs(float(other[0]) - float(shared[0])) > 1e-4  # the M draws are not the one-sample draw
    with pytest.raises(ValueError, match="noise_samples must be >= 1"):
        get_variant("tiny", noise_samples=0)
