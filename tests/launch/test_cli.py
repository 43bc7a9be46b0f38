"""The `dexvlg` command's dispatch and its errors."""
from launch import cli


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert name in out


def test_unknown_subcommand_says_what_to_type(capsys):
    assert cli.main(["synth"]) == 2
    err = capsys.readouterr().err
    assert "unknown subcommand 'synth'" in err and "dexvlg synthesize" in err


def test_benchmark_dispatch_rejects_unknown_benchmark(capsys):
    import pytest

    from launch import benchmark

    with pytest.raises(SystemExit, match="usage: python -m launch.benchmark"):
        benchmark.main(["nope"])
