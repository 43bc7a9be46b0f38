"""The CPU-sized synthesis run (configs/synth/paper.py with arg "tiny"): finishes in minutes on 2 cores."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location("_synth_paper", os.path.join(os.path.dirname(__file__), "paper.py"))
_paper = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_paper)


def get_config(arg=None):
    """arg: none or "tiny" / "runlocal" (all the same run); anything else is an error listing these."""
    return _paper.get_config(arg or "tiny")
