"""The `dexvlg` command's dispatch and its errors."""
import pytest

from launch import benchmark, cli


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
    with pytest.raises(SystemExit, match="usage: python -m launch.benchmark"):
        benchmark.main(["nope"])


def test_benchmark_reports_a_missing_file_in_one_line(tmp_path, capsys):
    """`python -m launch.benchmark compare` with a missing evaluation: exit status 2 and one line naming the path."""
    assert benchmark.cli_main(["compare", "--eval", f"a={tmp_path / 'nothing'}", "--eval", f"b={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m launch.benchmark: error: ") and "nothing" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [[name, "--help"] for name in cli.SUBCOMMANDS] + [["benchmark", "-h"]]
                         + [["benchmark", name, "--help"] for name in benchmark.BENCHMARKS])
def test_every_help_page_prints(argv, capsys):
    """argparse formats help strings with %: a bare '29% at' once made `dexvlg demo --help` crash."""
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 0 and "usage:" in capsys.readouterr().out
