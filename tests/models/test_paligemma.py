"""PaliGemma in Flax against HF transformers (independent oracle), checkpoint I/O, mask semantics, real sizes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.models import weights
from dexvlg_jax.models.gemma import GemmaConfig, prefix_lm_mask
from dexvlg_jax.models.paligemma import PALIGEMMA_3B_224, PaliGemma, PaliGemmaConfig
from dexvlg_jax.models.siglip import SiglipConfig

VOCAB = 300
TINY = PaliGemmaConfig(SiglipConfig(width=32, depth=2, mlp_dim=48, num_heads=4, patch_size=8, image_size=32,
                                    out_dim=64),
                       GemmaConfig(width=64, depth=2, mlp_dim=96, num_heads=4, num_kv_heads=2, head_dim=16,
                                   vocab_size=VOCAB))


def _count(tree):
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def _inputs(batch=2, length=6, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (batch, 32, 32, 3)).astype(np.float32)
    tokens = rng.integers(3, VOCAB - 2, (batch, length)).astype(np.int32)
    return image, tokens


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    hf_config = transformers.PaliGemmaConfig(
        vision_config=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                           patch_size=8, image_size=32, vision_use_head=False, projection_dim=64),
        text_config=dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=16, vocab_size=VOCAB),
        image_token_index=VOCAB - 1, vocab_size=VOCAB, projection_dim=64, hidden_size=64)
    torch.manual_seed(0)
    model = transformers.PaliGemmaForConditionalGeneration(hf_config).eval()
    with torch.no_grad():  # RMSNorm scales start at 0; perturb them so the (1 + scale) convention is exercised.
        for name, param in model.named_parameters():
            if "norm" in name:
                param.add_(0.1 * torch.randn_like(param))
    path = tmp_path_factory.mktemp("hf_paligemma")
    model.save_pretrained(path)
    return model, str(path)


@pytest.mark.parametrize("ar", [[0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
def test_logits_match_transformers(hf_checkpoint, ar):
    import torch

    hf_model, path = hf_checkpoint
    model = PaliGemma(TINY)
    image, tokens = _inputs()
    valid = np.ones(tokens.shape, bool)
    expected = jax.eval_shape(model.init, jax.random.key(0), image, tokens, valid)["params"]
    params = weights.load_hf_paligemma(path, TINY, expected=expected)
    ar = np.array([ar] * tokens.shape[0])
    ours = np.asarray(jax.jit(model.apply)({"params": params}, image, tokens, valid, ar))

    num_image = TINY.vision.num_tokens
    ids = np.concatenate([np.full((tokens.shape[0], num_image), VOCAB - 1), tokens], axis=1)
    token_type = np.concatenate([np.zeros((tokens.shape[0], num_image), int), ar], axis=1)
    ids_t = torch.tensor(ids)
    with torch.no_grad():  # token_type_ids AND labels: the prefix-LM mask is applied only with both.
        out = hf_model(input_ids=ids_t, pixel_values=torch.tensor(image.transpose(0, 3, 1, 2)),
                       token_type_ids=torch.tensor(token_type), labels=ids_t, attention_mask=torch.ones_like(ids_t))
    reference = out.logits.numpy()
    assert ours.shape == reference.shape
    np.testing.assert_array_less(np.abs(ours - reference).max(), 1e-4)


def test_npz_round_trip_and_bfloat16(tmp_path):
    model = PaliGemma(TINY)
    image, tokens = _inputs()
    params = jax.jit(model.init)(jax.random.key(1), image, tokens, np.ones(tokens.shape, bool))["params"]
    params = jax.tree.map(np.asarray, params)
    path = str(tmp_path / "ckpt.npz")
    weights.save_npz(path, params)
    with np.load(path, allow_pickle=False) as data:
        assert "params/llm/layers/attn/q_einsum/w" in data.files
        assert "params/img/Transformer/encoderblock/MultiHeadDotProductAttention_0/query/kernel" in data.files
    loaded = weights.load_npz(path)
    jax.tree.map(np.testing.assert_array_equal, params, loaded)

    bf16 = jax.tree.map(lambda a: a.astype(jnp.bfloat16), params)
    weights.save_npz(str(tmp_path / "bf16.npz"), jax.tree.map(np.asarray, bf16))
    loaded = weights.load_npz(str(tmp_path / "bf16.npz"), dtype=np.float32)
    weights.check_shapes(params, loaded)
    logits = jax.jit(model.apply)({"params": loaded}, image, tokens, np.ones(tokens.shape, bool))
    assert np.all(np.isfinite(logits))


def test_shape_mismatch_names_key(tmp_path):
    model = PaliGemma(TINY)
    image, tokens = _inputs()
    expected = jax.eval_shape(model.init, jax.random.key(0), image, tokens, np.ones(tokens.shape, bool))["params"]
    bad = jax.tree.map(lambda s: np.zeros(s.shape, np.float32), expected)
    bad["llm"]["layers"]["attn"]["q_einsum"]["w"] = np.zeros((2, 4, 64, 8), np.float32)
    with pytest.raises(ValueError, match=r"llm/layers/attn/q_einsum/w.*\(2, 4, 64, 8\).*\(2, 4, 64, 16\)"):
        weights.check_shapes(expected, bad)
    del bad["llm"]["final_norm"]
    bad["llm"]["layers"]["attn"]["q_einsum"]["w"] = np.zeros((2, 4, 64, 16), np.float32)
    with pytest.raises(ValueError, match="missing key 'llm/final_norm/scale'"):
        weights.check_shapes(expected, bad)
    weights.save_npz(str(tmp_path / "bad.npz"), bad)
    with pytest.raises(ValueError, match="missing key"):
        weights.check_shapes(expected, weights.load_npz(str(tmp_path / "bad.npz")), source="bad.npz")


def test_prefix_lm_mask_matches_written_matrix():
    # Tokens: 2 image (ar 0), 2 text (ar 0), 2 suffix (ar 1, 1), last token padding.
    input_mask = jnp.array([[1, 1, 1, 1, 1, 1, 0]], bool)
    ar = jnp.array([[0, 0, 0, 0, 1, 1, 0]])
    expected = np.array([
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ], bool)
    np.testing.assert_array_equal(prefix_lm_mask(input_mask, ar)[0], expected)


def test_paligemma_3b_parameter_count_and_tree():
    model = PaliGemma(PALIGEMMA_3B_224)
    image = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    tokens = jax.ShapeDtypeStruct((1, 8), jnp.int32)
    mask = jax.ShapeDtypeStruct((1, 8), jnp.bool_)
    params = jax.eval_shape(model.init, jax.random.key(0), image, tokens, mask)["params"]
    assert _count(params) == 2_923_335_408
    flat = weights.flatten_tree(params)
    expected_shapes = {
        "img/embedding/kernel": (14, 14, 3, 1152),
        "img/pos_embedding": (1, 256, 1152),
        "img/head/kernel": (1152, 2048),
        "img/Transformer/encoderblock/MlpBlock_0/Dense_0/kernel": (27, 1152, 4304),
        "img/Transformer/encoderblock/MultiHeadDotProductAttention_0/query/kernel": (27, 1152, 16, 72),
        "llm/embedder/input_embedding": (257152, 2048),
        "llm/layers/attn/q_einsum/w": (18, 8, 2048, 256),
        "llm/layers/attn/kv_einsum/w": (18, 2, 1, 2048, 256),
        "llm/layers/attn/attn_vec_einsum/w": (18, 8, 256, 2048),
        "llm/layers/mlp/gating_einsum": (18, 2, 2048, 16384),
        "llm/layers/mlp/linear": (18, 16384, 2048),
        "llm/layers/pre_attention_norm/scale": (18, 2048),
        "llm/final_norm/scale": (2048,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(flat[key].shape) == shape, key


def test_hf_checkpoint_merges_into_dexvlg(hf_checkpoint):
    from dexvlg_jax.models.variants import DexVLGConfig
    from dexvlg_jax.models.vlg import DexVLG

    _, path = hf_checkpoint
    expert = GemmaConfig(width=32, depth=2, mlp_dim=48, num_heads=4, num_kv_heads=2, head_dim=16, vocab_size=0)
    model = DexVLG(DexVLGConfig(vlm=TINY, expert=expert, depth_hidden=16, num_pose_tokens=2, max_text_len=8))
    shapes = model.param_shapes()
    params = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)
    merged = weights.merge_pretrained(params, weights.load_hf_paligemma(path, TINY), source=path)
    flat, before = weights.flatten_tree(merged), weights.flatten_tree(params)
    assert set(flat) == set(before)
    assert np.abs(flat["llm/layers/attn/q_einsum/w"]).sum() > 0 and np.abs(flat["img/head/kernel"]).sum() > 0
    assert np.abs(flat["pose_expert/layers/attn/q_einsum/w"]).sum() == 0  # untouched by the VLM checkpoint


def test_bfloat16_safetensors_import(hf_checkpoint, tmp_path):
    import copy

    import torch

    hf_model, path = hf_checkpoint
    float_params = weights.load_hf_paligemma(path, TINY)
    copy.deepcopy(hf_model).to(torch.bfloat16).save_pretrained(tmp_path)  # the fixture's model stays float32
    bf16_params = weights.load_hf_paligemma(str(tmp_path), TINY)
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(a.astype(jnp.bfloat16).astype(np.float32), b),
                 float_params, bf16_params)
