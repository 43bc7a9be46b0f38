"""`dexvlg render`: grasp pictures and GLB files from a grasp file."""
import numpy as np
import pytest
import trimesh

from dexvlg_jax import objects
from launch import render


@pytest.fixture(scope="module")
def grasp_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grasps")
    obj = objects.process_object(objects.make_object("bottle", 0),
                                 objects.ProcessingConfig(grid_resolution=16, num_surface_points=128,
                                                          coacd_max_pieces=2))
    objects.save_processed(obj, folder / "bottle.npz")
    poses = np.zeros((2, 25), np.float32)
    poses[:, 0] = [-0.12, -0.15]
    poses[:, 3], poses[:, 7] = 1.0, 1.0  # rot6d of the identity
    np.savez(folder / "g.npz", poses=poses, object=np.array("bottle.npz"), valid=np.array([True, False]))
    return folder / "g.npz"


def test_render_writes_png_and_glb_for_valid_grasps(grasp_file, tmp_path):
    assert render.main(["--poses", str(grasp_file), "--out", str(tmp_path), "--glb", "--size", "64"]) == 0
    pngs, glbs = sorted(tmp_path.glob("*.png")), sorted(tmp_path.glob("*.glb"))
    assert [p.name for p in pngs] == ["grasp_bottle_0000_0.png"] and len(glbs) == 1
    assert len(trimesh.load(glbs[0]).geometry) == 2


def test_render_rejects_rows_outside_the_file(grasp_file, tmp_path, capsys):
    with pytest.raises(SystemExit):
        render.main(["--poses", str(grasp_file), "--out", str(tmp_path), "--index", "5"])
    assert "the file has 2 grasps" in capsys.readouterr().err
