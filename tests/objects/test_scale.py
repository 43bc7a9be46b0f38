"""Real scale (ProcessingConfig.source_scale) and the per-part filter: a big object keeps its real size, its body
is too wide for the hand, and its handle is still graspable (the filter judges each part, not the object)."""
import numpy as np
import pytest
import trimesh

from dexvlg_jax.grasp.feasibility import part_failure
from dexvlg_jax.grasp.init import InitConfig
from dexvlg_jax.objects import LabeledMesh, ProcessingConfig, process_object

SMALL = dict(grid_resolution=16, num_surface_points=256, coacd_max_pieces=4)


def _bin_with_handle():
    """A 30 x 30 x 25 cm bin (part 0) with a 12 cm long, 2.4 cm thick bar handle on top (part 1), in mm."""
    body = trimesh.creation.box([300.0, 300.0, 250.0])
    handle = trimesh.creation.box([120.0, 24.0, 24.0]).apply_translation([0.0, 0.0, 137.0])
    mesh = trimesh.util.concatenate([body, handle])
    labels = np.concatenate([np.zeros(len(body.faces), int), np.ones(len(handle.faces), int)])
    return LabeledMesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), labels, ["body", "handle"], ["", ""],
                       "bin", "bin")


def test_source_scale_keeps_the_real_size():
    obj = process_object(_bin_with_handle(), ProcessingConfig(source_scale=1e-3, **SMALL))
    np.testing.assert_allclose(np.ptp(obj.vertices, axis=0), [0.30, 0.30, 0.274], atol=1e-4)
    assert obj.scale == pytest.approx(1e-3)


def test_part_filter_judges_each_part():
    obj = process_object(_bin_with_handle(), ProcessingConfig(source_scale=1e-3, **SMALL))
    body, handle = obj.part_names.index("body"), obj.part_names.index("handle")
    assert part_failure(obj, body, InitConfig()).startswith("part_too_big")
    assert part_failure(obj, handle, InitConfig()) is None


def test_source_scale_is_checked():
    with pytest.raises(ValueError, match="source_scale"):
        ProcessingConfig(source_scale=0.0)
