"""Objects stage: embedded procedural library with semantic parts, mesh import, processing for synthesis.

Object frame of every ProcessedObject: metres, z up, origin at the bounding-box centre; SDFs are negative inside.
Part classes are the paper's "lid", "disk", "L" and "shaft".
The native steps of processing (manifold3d, point-cloud-utils, coacd) run in worker processes (`isolation`): a crash
or a hang is an
ObjectError (`StepCrashed`, `StepTimedOut`) naming the object, never the end of a batch.
"""
from dexvlg_jax.objects.containers import (PART_CLASSES, CorruptFileError, LabeledMesh, ProcessedObject,
                                           load_cached_processed, load_processed, save_processed)
from dexvlg_jax.objects.decomposition import farthest_point_sample
from dexvlg_jax.objects.errors import ObjectError
from dexvlg_jax.objects.isolation import ProcessingWarning, StepCrashed, StepTimedOut, call_isolated
from dexvlg_jax.objects.library import CATEGORIES, embedded_objects, make_object
from dexvlg_jax.objects.mesh_io import load_mesh, read_part_labels
from dexvlg_jax.objects.part_classes import classify_part, part_frame
from dexvlg_jax.objects.processing import (UNIT_METRES, ProcessingConfig, process_many, process_object,
                                           watertight_mesh)

__all__ = [
    "CATEGORIES",
    "PART_CLASSES",
    "LabeledMesh",
    "ObjectError",
    "ProcessedObject",
    "ProcessingConfig",
    "ProcessingWarning",
    "StepCrashed",
    "StepTimedOut",
    "UNIT_METRES",
    "call_isolated",
    "classify_part",
    "embedded_objects",
    "farthest_point_sample",
    "load_mesh",
    "load_processed",
    "load_cached_processed",
    "CorruptFileError",
    "make_object",
    "part_frame",
    "process_many",
    "process_object",
    "read_part_labels",
    "save_processed",
    "watertight_mesh",
]
