"""PaliGemma checkpoint import: big_vision `.npz` and HF transformers safetensors, both to big_vision's tree.

Trees are nested dicts `{"img": {...}, "llm": {...}}` with the leaf paths documented in `siglip.py` and `gemma.py`.

- big_vision `.npz`: keys are those paths joined by "/" under "params/" (e.g. `params/llm/layers/attn/q_einsum/w`).
  bfloat16 arrays come back from `np.load` as raw 2-byte void (`|V2`) or as uint16 views; both are reinterpreted
  as `ml_dtypes.bfloat16`. Files are read with `allow_pickle=False`.
- HF `PaliGemmaForConditionalGeneration` safetensors (one file or a sharded directory), read with
  a small numpy reader (no torch needed; bfloat16 files included). The mapping (torch Linear weights are (out, in)):
  q_einsum = q_proj.weight.reshape(N, H, D).transpose(0, 2, 1); kv_einsum = stack(k, v) likewise with K heads;
  attn_vec_einsum = o_proj.weight.T.reshape(N, H, D); gating_einsum = stack(gate_proj.T, up_proj.T);
  linear = down_proj.T; norms copy; SigLIP patch kernel = weight.transpose(2, 3, 1, 0);
  query/key/value kernel = weight.T.reshape(W, Nh, Dh); out kernel = out_proj.weight.T.reshape(Nh, Dh, W);
  img/head = multi_modal_projector.linear. Image features are used as-is (transformers >= 5 inserts them after
  the sqrt(width) embedding scale; older versions divided by sqrt(width) first: the same net effect).
"""
from __future__ import annotations

import glob
import json
import os
from typing import Any, Mapping

import ml_dtypes
import numpy as np

from dexvlg_jax import atomic_io
from dexvlg_jax.models.paligemma import PaliGemmaConfig


def flatten_tree(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": x}} -> {"a/b": x}."""
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_tree(value, path))
        else:
            flat[path] = value
    return flat


def unflatten_tree(flat: Mapping[str, Any]) -> dict:
    """{"a/b": x} -> {"a": {"b": x}}."""
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _as_bfloat16_if_raw(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "V" and array.dtype.itemsize == 2 or array.dtype == np.uint16:
        return array.view(ml_dtypes.bfloat16)
    return array


def load_npz(path: str, dtype=None) -> dict:
    """Reads a big_vision checkpoint (`params/img/...`, `params/llm/...`) into a nested dict.

    Args:
      path: the .npz file.
      dtype: optional numpy dtype to cast every leaf to (e.g. np.float32); default keeps the stored dtype.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_npz: checkpoint {path!r} does not exist")
    flat = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            name = key[len("params/"):] if key.startswith("params/") else key
            array = _as_bfloat16_if_raw(data[key])
            flat[name] = array.astype(dtype) if dtype is not None else array
    return unflatten_tree(flat)


def save_npz(path: str, params: Mapping[str, Any]) -> None:
    """Writes a tree as a big_vision-style .npz (keys `params/<path>`; bfloat16 kept as 2-byte raw values)."""
    flat = {f"params/{k}": np.asarray(v) for k, v in flatten_tree(params).items()}
    atomic_io.write_npz(path, compressed=False, **flat)


def check_shapes(expected: Mapping[str, Any], got: Mapping[str, Any], source: str = "checkpoint",
                 allow_missing: bool = False) -> None:
    """Raises ValueError naming the first problem: a missing key, an unexpected key, or a shape mismatch.

    `expected` is a tree of arrays or ShapeDtypeStructs (e.g. from `jax.eval_shape(model.init, ...)`).
    With `allow_missing`, keys of `expected` absent from `got` are accepted (partial import, e.g. VLM only).
    """
    want, have = flatten_tree(expected), flatten_tree(got)
    unexpected = sorted(set(have) - set(want))
    if unexpected:
        raise ValueError(f"{source}: unexpected key {unexpected[0]!r} (shape {np.shape(have[unexpected[0]])}); "
                         f"{len(unexpected)} unexpected in all")
    missing = sorted(set(want) - set(have))
    if missing and not allow_missing:
        raise ValueError(f"{source}: missing key {missing[0]!r} (expected shape {tuple(want[missing[0]].shape)}); "
                         f"{len(missing)} missing in all")
    for key in sorted(set(want) & set(have)):
        if tuple(want[key].shape) != tuple(np.shape(have[key])):
            raise ValueError(f"{source}: key {key!r} has shape {tuple(np.shape(have[key]))}, "
                             f"expected {tuple(want[key].shape)}")


def merge_pretrained(params: Mapping[str, Any], pretrained: Mapping[str, Any], source: str = "checkpoint") -> dict:
    """Returns `params` with every leaf present in `pretrained` replaced (shapes checked, dtype of `params` kept)."""
    check_shapes(params, pretrained, source, allow_missing=True)
    flat, new = flatten_tree(params), flatten_tree(pretrained)
    merged = {k: (np.asarray(new[k]).astype(np.asarray(v).dtype) if k in new else v) for k, v in flat.items()}
    return unflatten_tree(merged)


_SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
                       "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
                       "BOOL": np.bool_}


def read_safetensors_file(path: str) -> dict[str, np.ndarray]:
    """Reads one .safetensors file with numpy only (bfloat16 included, which `safetensors.numpy` rejects).

    Format: 8-byte little-endian header size, a JSON header {name: {dtype, shape, data_offsets}}, then the data.
    """
    with open(path, "rb") as f:
        header_size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_size))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise ValueError(f"read_safetensors_file: {path!r} tensor {name!r} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=_SAFETENSORS_DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"])
    return tensors


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    files = sorted(glob.glob(os.path.join(path, "*.safetensors"))) if os.path.isdir(path) else [path]
    if not files or not all(os.path.exists(f) for f in files):
        raise FileNotFoundError(f"load_hf_paligemma: no .safetensors file at {path!r}")
    tensors: dict[str, np.ndarray] = {}
    for file in files:
        tensors.update(read_safetensors_file(file))
    # Files differ by transformers version ("model." prefix, "language_model.model.", "vision_tower.vision_model.");
    # normalise to "language_model.<...>" and "vision_tower.<...>".
    renamed = {}
    for key, value in tensors.items():
        key = key.removeprefix("model.")
        key = key.replace("language_model.model.", "language_model.")
        key = key.replace("vision_tower.vision_model.", "vision_tower.")
        renamed[key] = value.astype(np.float32) if value.dtype != np.float32 else value
    return renamed


def convert_hf_paligemma(tensors: Mapping[str, np.ndarray], config: PaliGemmaConfig) -> dict:
    """HF PaliGemma state dict (numpy, names normalised by `_read_safetensors`) -> big_vision tree `{img, llm}`."""
    v, g = config.vision, config.llm
    vh, vdh = v.num_heads, v.width // v.num_heads

    def take(name):
        if name not in tensors:
            raise KeyError(f"convert_hf_paligemma: tensor {name!r} missing from the safetensors file")
        return np.asarray(tensors[name])

    def stack(fmt, fn, depth):
        return np.stack([fn(fmt.format(i)) for i in range(depth)])

    vis = "vision_tower."
    enc = vis + "encoder.layers.{}."
    qkv_kernel = lambda n: take(n + ".weight").T.reshape(v.width, vh, vdh)  # noqa: E731
    qkv_bias = lambda n: take(n + ".bias").reshape(vh, vdh)  # noqa: E731
    block = {
        "LayerNorm_0": {"scale": stack(enc + "layer_norm1.weight", take, v.depth),
                        "bias": stack(enc + "layer_norm1.bias", take, v.depth)},
        "LayerNorm_1": {"scale": stack(enc + "layer_norm2.weight", take, v.depth),
                        "bias": stack(enc + "layer_norm2.bias", take, v.depth)},
        "MlpBlock_0": {
            "Dense_0": {"kernel": stack(enc + "mlp.fc1.weight", lambda n: take(n).T, v.depth),
                        "bias": stack(enc + "mlp.fc1.bias", take, v.depth)},
            "Dense_1": {"kernel": stack(enc + "mlp.fc2.weight", lambda n: take(n).T, v.depth),
                        "bias": stack(enc + "mlp.fc2.bias", take, v.depth)}},
        "MultiHeadDotProductAttention_0": {
            **{ours: {"kernel": stack(enc + f"self_attn.{hf}", qkv_kernel, v.depth),
                      "bias": stack(enc + f"self_attn.{hf}", qkv_bias, v.depth)}
               for ours, hf in (("query", "q_proj"), ("key", "k_proj"), ("value", "v_proj"))},
            "out": {"kernel": stack(enc + "self_attn.out_proj.weight",
                                    lambda n: take(n).T.reshape(vh, vdh, v.width), v.depth),
                    "bias": stack(enc + "self_attn.out_proj.bias", take, v.depth)}},
    }
    img = {
        "embedding": {"kernel": take(vis + "embeddings.patch_embedding.weight").transpose(2, 3, 1, 0),
                      "bias": take(vis + "embeddings.patch_embedding.bias")},
        "pos_embedding": take(vis + "embeddings.position_embedding.weight")[None],
        "Transformer": {"encoderblock": block,
                        "encoder_norm": {"scale": take(vis + "post_layernorm.weight"),
                                         "bias": take(vis + "post_layernorm.bias")}},
        "head": {"kernel": take("multi_modal_projector.linear.weight").T,
                 "bias": take("multi_modal_projector.linear.bias")},
    }

    lay = "language_model.layers.{}."
    heads = lambda n, num: take(n).reshape(num, g.head_dim, g.width).transpose(0, 2, 1)  # noqa: E731
    layers = {
        "pre_attention_norm": {"scale": stack(lay + "input_layernorm.weight", take, g.depth)},
        "pre_ffw_norm": {"scale": stack(lay + "post_attention_layernorm.weight", take, g.depth)},
        "attn": {
            "q_einsum": {"w": stack(lay + "self_attn.q_proj.weight", lambda n: heads(n, g.num_heads), g.depth)},
            "kv_einsum": {"w": np.stack([
                np.stack([heads(lay.format(i) + f"self_attn.{p}_proj.weight", g.num_kv_heads) for p in "kv"])
                for i in range(g.depth)])},
            "attn_vec_einsum": {"w": stack(lay + "self_attn.o_proj.weight",
                                           lambda n: take(n).T.reshape(g.num_heads, g.head_dim, g.width), g.depth)},
        },
        "mlp": {
            "gating_einsum": np.stack([
                np.stack([take(lay.format(i) + f"mlp.{p}_proj.weight").T for p in ("gate", "up")])
                for i in range(g.depth)]),
            "linear": stack(lay + "mlp.down_proj.weight", lambda n: take(n).T, g.depth),
        },
    }
    llm = {"embedder": {"input_embedding": take("language_model.embed_tokens.weight")},
           "layers": layers,
           "final_norm": {"scale": take("language_model.norm.weight")}}
    return {"img": img, "llm": llm}


def load_hf_paligemma(path: str, config: PaliGemmaConfig, expected: Mapping[str, Any] | None = None) -> dict:
    """Reads HF PaliGemma safetensors (file or directory) into big_vision's tree, float32.

    If `expected` (a `{img, llm}` tree of arrays or shape structs) is given, shapes are checked against it.
    """
    params = convert_hf_paligemma(_read_safetensors(path), config)
    if expected is not None:
        check_shapes(expected, params, source=path)
    return params
