"""Trains the small SentencePiece model shipped as the default instruction tokenizer.

`python -m launch.train_tokenizer [--out dexvlg_jax/data/assets/instructions.model] [--vocab_size 640]`

The corpus is every sentence the templates below produce over the object, part and mode vocabulary (grasp verbs,
household/tool objects, part names, wrap/pinch). Special ids follow Gemma/PaliGemma: pad 0, eos 1, bos 2, unk 3;
"\\n" (PaliGemma's prefix separator) is a user-defined piece; byte fallback keeps any text encodable.
A real PaliGemma tokenizer file can be used instead (see `dexvlg_jax.data.tokenizer`).
"""
import argparse
import itertools
import os
import tempfile

from dexvlg_jax.hand.constants import MODES

VERBS = ("grasp", "grab", "pick up", "hold", "take", "lift", "seize", "clutch", "pinch", "wrap your hand around",
         "get", "hold onto", "reach for")
OBJECTS = ("mug", "cup", "bottle", "spray bottle", "water bottle", "pan", "frying pan", "pot", "kettle", "teapot",
           "hammer", "knife", "screwdriver", "wrench", "scissors", "bowl", "box", "flashlight", "can", "jar",
           "spoon", "spatula", "ladle", "plate", "toy", "ball", "drill", "brush", "pitcher", "vase", "lamp",
           "remote", "phone", "headphones", "glasses", "stapler", "tape", "banana", "apple", "camera")
PARTS = ("handle", "cap", "lid", "body", "blade", "trigger", "knob", "rim", "head", "shaft", "spout", "neck", "base",
         "grip", "top", "bottom", "side", "edge", "tip", "button", "nozzle", "bristles", "stem", "bulb")
TEMPLATES = (
    "{verb} the {obj} by the {part}",
    "{verb} the {obj} by its {part}",
    "{verb} the {part} of the {obj}",
    "{mode} grasp the {part} of the {obj}",
    "use a {mode} grasp to {verb} the {obj} by the {part}",
    "{verb} the {obj} at the {part} with a {mode} grasp",
    "please {verb} the {obj} from the {part}",
    "{verb} the {obj}",
)


def corpus_lines():
    for template, verb, obj, part, mode in itertools.product(TEMPLATES, VERBS, OBJECTS, PARTS, MODES):
        yield template.format(verb=verb, obj=obj, part=part, mode=mode)


def train(out_path: str, vocab_size: int = 640) -> str:
    import sentencepiece as spm

    from dexvlg_jax import atomic_io

    lines = sorted(set(corpus_lines()))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
                f.write(line.capitalize() + ".\n")
        prefix = os.path.join(tmp, "spm")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=vocab_size, model_type="bpe", add_dummy_prefix=False,
            pad_id=0, eos_id=1, bos_id=2, unk_id=3, user_defined_symbols=["\n"], byte_fallback=True,
            normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
            hard_vocab_limit=False, character_coverage=1.0, num_threads=1, minloglevel=2)
        with open(prefix + ".model", "rb") as src:
            atomic_io.write_bytes(out_path, src.read())
    return out_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("dexvlg_jax", "data", "assets", "instructions.model"))
    parser.add_argument("--vocab_size", type=int, default=640)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    args = parser.parse_args(argv)
    path = train(args.out, args.vocab_size)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    from dexvlg_jax.cli_errors import run_main

    return run_main(main, argv, prog="python -m launch.train_tokenizer")


if __name__ == "__main__":
    import sys

    sys.exit(cli_main())
