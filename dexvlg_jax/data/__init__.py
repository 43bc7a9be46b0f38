"""Data stage: annotation, part segmentation, instructions, record schema, ArrayRecord writer, grain reading.

Pipeline pieces in order: `ensure_parts` (segment unlabeled meshes) -> `Annotator` (quality filter, part names,
real size) -> `assign_splits` / `plan_shards` / `shard_of_work` -> per record `sample_instruction` +
`transform_pose` -> `GraspRecord` -> `DatasetWriter.write_shard` (atomic, resumable) -> `update_manifest`;
reading: `make_data_loader` with `default_operations` (decode, resize, back-project, raw pose, tokenise).
"""
from dexvlg_jax.data.annotate import (CATEGORY_DIAGONALS, SIZE_RANGE, AnnotationError, Annotator,
                                      HeuristicAnnotator, default_marks, set_of_marks)
from dexvlg_jax.data.annotate_http import OpenAICompatibleAnnotator
from dexvlg_jax.data.instructions import (EVAL_TEMPLATES, TRAIN_TEMPLATES, instruction_seed, object_noun,
                                          render_instruction, sample_instruction, templates_for)
from dexvlg_jax.data.schema import (POSE_DIM, SCHEMA_VERSION, GraspRecord, decode_record, encode_record,
                                    transform_pose)
from dexvlg_jax.data.segment import GeometricSegmenter, Segmenter, ensure_parts, part_iou
from dexvlg_jax.data.source import (BackProjectDepth, DecodeRecord, RawPose, ResizeCrop, SelectFeatures,
                                    TokenizeInstruction, default_operations, make_data_loader, open_data_source,
                                    pose_statistics)
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.data.shards import ShardSpec, parse_shard_flag, plan_shards, shard_of_work
from dexvlg_jax.data.splits import SPLITS, assign_splits
from dexvlg_jax.data.writer import DatasetWriter, compute_pose_statistics, read_manifest, shard_paths

__all__ = [
    "CATEGORY_DIAGONALS", "EVAL_TEMPLATES", "POSE_DIM", "SCHEMA_VERSION", "SIZE_RANGE", "SPLITS", "TRAIN_TEMPLATES",
    "AnnotationError", "Annotator", "BackProjectDepth", "DatasetWriter", "DecodeRecord", "GeometricSegmenter",
    "GraspRecord", "HeuristicAnnotator", "OpenAICompatibleAnnotator", "RawPose", "ResizeCrop", "Segmenter",
    "SelectFeatures", "ShardSpec", "TokenizeInstruction", "Tokenizer", "assign_splits", "compute_pose_statistics",
    "decode_record", "default_marks", "default_operations", "encode_record", "ensure_parts",
    "instruction_seed", "make_data_loader", "object_noun", "open_data_source", "parse_shard_flag", "part_iou",
    "plan_shards", "pose_statistics", "read_manifest", "render_instruction", "sample_instruction", "set_of_marks",
    "shard_of_work", "shard_paths", "templates_for", "transform_pose",
]
