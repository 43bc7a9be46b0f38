"""The build cache (`data.build_cache`): a build is stored once per (config, code) and copied into a new output
folder on the next build with the same key; another config, another source or a mesh folder builds anew.
The data engine itself is replaced by a recorder here (its own tests build real datasets)."""
import dataclasses
import json
import os

import pytest

from dexvlg_jax.data import build_cache, pipeline


@pytest.fixture
def fake_engine(monkeypatch):
    """pipeline.build_dataset stand-in: writes a manifest, a shard and statistics into a new folder; records
    whether each call built or found a dataset there."""
    calls = []

    def build(cfg, out_dir, progress=True):
        manifest_path = os.path.join(out_dir, "manifest.json")
        if os.path.exists(manifest_path):
            calls.append(("found", out_dir))
        else:
            calls.append(("built", out_dir))
            os.makedirs(os.path.join(out_dir, "statistics"), exist_ok=True)
            with open(os.path.join(out_dir, "train-00000.array_record"), "w") as f:
                f.write(f"records of seed {cfg.seed}")
            with open(os.path.join(out_dir, "statistics", "counts.png"), "w") as f:
                f.write("drawn for this folder")
            with open(manifest_path, "w") as f:
                json.dump({"num_records": 3, "seed": cfg.seed}, f)
        with open(manifest_path) as f:
            return json.load(f)

    monkeypatch.setattr(pipeline, "build_dataset", build)
    monkeypatch.setenv("DEXVLG_DATA_CACHE", "1")
    return calls


def test_second_build_with_the_same_key_copies_the_first(fake_engine, tmp_path):
    cfg, cache = pipeline.DatasetConfig(seed=3), str(tmp_path / "cache")
    _, how = build_cache.build_or_reuse(cfg, str(tmp_path / "a"), progress=False, cache_root=cache)
    assert how == "built" and fake_engine == [("built", str(tmp_path / "a"))]
    entry = os.path.join(cache, build_cache.build_key(cfg))
    assert sorted(os.listdir(entry)) == ["manifest.json", "train-00000.array_record"]  # statistics not stored
    manifest, how = build_cache.build_or_reuse(cfg, str(tmp_path / "b"), progress=False, cache_root=cache)
    assert how == f"reused {entry}" and fake_engine[-1] == ("found", str(tmp_path / "b"))
    assert manifest["seed"] == 3
    assert (tmp_path / "b" / "train-00000.array_record").read_text() == "records of seed 3"
    # the same folder again: resumed in place (the data engine's own resume), the entry untouched
    _, how = build_cache.build_or_reuse(cfg, str(tmp_path / "b"), progress=False, cache_root=cache)
    assert how == "resumed" and fake_engine[-1] == ("found", str(tmp_path / "b"))
    # another config builds anew and gets its own entry
    _, how = build_cache.build_or_reuse(dataclasses.replace(cfg, seed=4), str(tmp_path / "c"), progress=False,
                                        cache_root=cache)
    assert how == "built" and len(os.listdir(cache)) == 2


def test_no_cache_for_mesh_folders_or_when_turned_off(fake_engine, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    _, how = build_cache.build_or_reuse(pipeline.DatasetConfig(mesh_folder=str(tmp_path)), str(tmp_path / "a"),
                                        progress=False, cache_root=cache)
    assert how == "built, not cached (a mesh folder)" and not os.path.exists(cache)
    monkeypatch.setenv("DEXVLG_DATA_CACHE", "0")
    _, how = build_cache.build_or_reuse(pipeline.DatasetConfig(), str(tmp_path / "b"), progress=False,
                                        cache_root=cache)
    assert how == "built, not cached (DEXVLG_DATA_CACHE=0)" and not os.path.exists(cache)


def test_the_key_covers_every_source_byte(tmp_path):
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "energy.py").write_text("WEIGHT = 1.0\n")
    cfg = pipeline.DatasetConfig()
    key = build_cache.build_key(cfg, str(package))
    (package / "__pycache__" / "energy.pyc").write_bytes(b"compiled")
    assert build_cache.build_key(cfg, str(package)) == key
    (package / "energy.py").write_text("WEIGHT = 2.0\n")
    assert build_cache.build_key(cfg, str(package)) != key
    assert build_cache.build_key(dataclasses.replace(cfg, image_size=32), str(package)) != \
        build_cache.build_key(cfg, str(package))
