"""Input pipeline: synthetic source determinism, and the ArrayRecord path (a 2-shard dataset written with the
data stage's writer) yields model-ready batches with the manifest's pose statistics."""
import numpy as np

from dexvlg_jax.data import schema, shards, writer
from dexvlg_jax.models.variants import get_variant
from dexvlg_jax.models.vlg import OBS_KEYS
from dexvlg_jax.train.input_pipeline import (MIN_POSE_STD, DataConfig, SyntheticSource, dataset_pose_statistics,
                                             make_train_loader)
from dexvlg_jax.train.loop import TrainConfig, resolve_model_config

MODEL = get_variant("tiny")


def _record(object_id, split, index):
    rng = np.random.default_rng(index)
    pose = np.concatenate([rng.normal(size=3) * 0.1, [1, 0, 0, 0, 1, 0], rng.uniform(0, 1, 16)]).astype(np.float32)
    return schema.GraspRecord(
        object_id=object_id, category="mug", split=split, part_id=0, part_name="handle", mode="wrap",
        instruction="grasp the mug by its handle", grasp_index=index, view_index=0, pose_camera=pose,
        pose_object=pose, object_to_camera=np.eye(4, dtype=np.float32), penetration_mm=1.0,
        self_penetration_mm=0.1, q1=0.05, sim_success=True,
        rgb=rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), depth=rng.uniform(0.5, 1.0, (48, 64)).astype(np.float32),
        part_mask=np.zeros((48, 64), np.int32),
        intrinsics=np.array([[60.0, 0, 32], [0, 60, 24], [0, 0, 1]], np.float32),
        extrinsics=np.eye(4, dtype=np.float32))


def test_synthetic_source_is_deterministic_and_indexed():
    source = SyntheticSource(MODEL, 16)
    a, b = source[3], source[3]
    assert int(a["index"]) == 3 and len(source) == 16
    for key in OBS_KEYS + ("pose",):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["image"].shape == (MODEL.image_size, MODEL.image_size, 3)


def test_arrayrecord_dataset_batches(tmp_path):
    out = str(tmp_path / "dataset")
    dataset = writer.DatasetWriter(out)
    for shard, objects in enumerate((["mug_0", "mug_1"], ["mug_2"])):
        spec = shards.ShardSpec(name=f"train-{shard:05d}", split="train", object_ids=tuple(objects))
        dataset.write_shard(spec, [_record(o, "train", 10 * shard + i) for i, o in enumerate(objects * 3)])
    dataset.update_manifest()

    data = DataConfig(path=out, split="train")
    loader = make_train_loader(data, MODEL, batch_size=4, seed=0)
    batch = next(iter(loader))
    size = MODEL.image_size
    assert batch["image"].shape == (4, size, size, 3) and batch["image"].dtype == np.float32
    assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    assert batch["depth"].shape == (4, size, size) and batch["intrinsics"].shape == (4, 3, 3)
    assert batch["tokens"].shape == (4, MODEL.max_text_len) and batch["tokens"].dtype == np.int32
    assert batch["token_mask"].dtype == bool and batch["token_mask"][:, 0].all()
    assert batch["pose"].shape == (4, 25)

    mean, std = dataset_pose_statistics(out)
    assert len(mean) == 25 and min(std) >= MIN_POSE_STD  # rotation dims are constant here: floored
    model = resolve_model_config(TrainConfig(model=MODEL, data=data))
    assert model.pose_mean == mean and model.pose_std == std

    # with the roll augmentation (data.augment), every epoch turns the same record by a new angle: the label's
    # translation keeps its length and its z (the roll is about the optical axis) but not its x, y
    rolled = DataConfig(path=out, split="train", roll_deg=30.0)
    plain = np.concatenate([b["pose"] for b in make_train_loader(data, MODEL, 3, seed=0, num_epochs=1)])
    seen = []
    for batch in make_train_loader(rolled, MODEL, 3, seed=0, num_epochs=2):
        for pose in batch["pose"]:
            original = plain[np.argmin(np.abs(plain[:, 2] - pose[2]))]  # the same record: z is unchanged
            np.testing.assert_allclose(np.linalg.norm(pose[:3]), np.linalg.norm(original[:3]), rtol=1e-5)
            seen.append(np.arctan2(pose[1], pose[0]) - np.arctan2(original[1], original[0]))
    turned = np.angle(np.exp(1j * np.array(seen)))
    assert len(plain) == 9 and len(turned) == 18 and np.all(np.abs(turned) <= np.deg2rad(30.0) + 1e-5)
    assert len(np.unique(np.round(turned, 4))) == 18  # a fresh angle per record and epoch


def test_instruction_noise_reads_the_part_nouns_from_the_manifest(tmp_path):
    import json

    import pytest

    from dexvlg_jax.data.tokenizer import Tokenizer
    from dexvlg_jax.train.input_pipeline import instruction_noise
    tokenizer = Tokenizer()
    (tmp_path / "manifest.json").write_text(json.dumps({"counts": {"part": {"handle": 3, "cap": 2}}}))
    kept = instruction_noise(DataConfig(path=str(tmp_path), token_noise=0.4, token_noise_keeps_parts=True), tokenizer)
    assert {"▁handle", "▁cap", "▁body"} <= {tokenizer._sp.id_to_piece(int(i)) for i in kept.protected_ids}
    assert len(instruction_noise(DataConfig(path=str(tmp_path), token_noise=0.4), tokenizer).protected_ids) == 0
    (tmp_path / "manifest.json").write_text(json.dumps({"counts": {}}))
    with pytest.raises(ValueError, match="no part counts"):
        instruction_noise(DataConfig(path=str(tmp_path), token_noise=0.4, token_noise_keeps_parts=True), tokenizer)
