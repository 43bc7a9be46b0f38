"""`launch.evaluate` argument handling: a grasp file or a checkpoint, never both; clear errors."""
import pytest

from launch import evaluate


def test_poses_and_checkpoint_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--poses", "a.npz", "--checkpoint", "run"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="--checkpoint: .*nope.* does not exist"):
        evaluate.main(["--checkpoint", str(tmp_path / "nope")])


def test_missing_grasp_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="--poses: .*missing.npz.* does not exist"):
        evaluate.main(["--poses", str(tmp_path / "missing.npz")])


def test_missing_dataset_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="--dataset: .*nodata.* is not a directory"):
        evaluate.main(["--checkpoint", str(tmp_path), "--dataset", str(tmp_path / "nodata")])


def test_policy_choices_are_the_evaluators(capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--checkpoint", "run", "--policy", "oracle"])
    err = capsys.readouterr().err
    assert "'model'" in err and "'retrieval'" in err


def test_step_takes_one_several_or_all(capsys):
    assert evaluate.parse_steps("8000") == [8000]
    assert evaluate.parse_steps("4000, 8000,12000") == [4000, 8000, 12000]
    assert evaluate.parse_steps("all") is None
    for bad in ("last", "-1", ",", "4000,x"):
        with pytest.raises(SystemExit):
            evaluate.main(["--checkpoint", "run", "--step", bad])
        assert f"--step: '{bad}' is not a step" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate.main(["--poses", "a.npz", "--step", "8000"])
    assert "--step: applies to --checkpoint" in capsys.readouterr().err


def test_ensemble_members_are_checked(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="--ensemble: .*other.* does not exist"):
        evaluate.main(["--checkpoint", str(tmp_path), "--ensemble", str(tmp_path / "other")])
    for extra in (["--step", "all"], ["--step", "4000,8000"]):
        with pytest.raises(SystemExit):
            evaluate.main(["--checkpoint", "run", "--ensemble", "other", *extra])
        assert "--ensemble: applies to --checkpoint at one step" in capsys.readouterr().err
