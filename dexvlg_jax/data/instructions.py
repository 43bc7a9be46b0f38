"""Language instructions naming the object, the part and the grasp mode, from templates.

Two disjoint template sets: TRAIN_TEMPLATES (used to build training records) and EVAL_TEMPLATES (held out: never
seen in training, for evaluating generalisation to new phrasings). Each is a dict mode -> tuple of templates;
"wrap" = power grasp with the whole hand, "pinch" = precision grasp with the fingertips.

Placeholders (filled by `render_instruction`):
  {the_object}  "the mug" / "the scissors"          {an_object}  "a mug" / "an apple" / "a pair of scissors"
  {object}      "mug"                               {its}        "its" / "their" (agrees with the object)
  {the_part}    "the handle"                        {part}       "handle"
  {part_is}     "is" / "are" (agrees with the part)
Part names equal to the object noun (a bowl's "bowl") render as "body" to avoid "the bowl by its bowl".
"""
from __future__ import annotations

import re
import zlib

import numpy as np

from dexvlg_jax.hand.constants import MODES

TRAIN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "wrap": (
        "grasp {the_object} by {its} {part}",
        "wrap your hand around the {part} of {the_object}",
        "hold {the_object} firmly by {its} {part}",
        "take a power grasp on the {part} of {the_object}",
        "grab {the_object} by the {part} with your whole hand",
        "pick up {the_object} by wrapping your fingers around {its} {part}",
        "close your hand around the {part} of {the_object}",
        "seize {the_object} by {its} {part}",
        "use a full-hand grasp on the {part} of {the_object}",
        "hold {an_object} by the {part}, fingers wrapped around it",
        "clasp the {part} of {the_object} in your palm",
        "get a firm grip on {the_object}'s {part}",
        "the {part} of {the_object} {part_is} what you should grab with your whole hand",
    ),
    "pinch": (
        "pinch the {part} of {the_object}",
        "pick up {the_object} by {its} {part} with your fingertips",
        "use a precision grasp on the {part} of {the_object}",
        "pinch {the_object} at {its} {part}",
        "hold the {part} of {the_object} between your thumb and fingers",
        "grasp {the_object} delicately by {its} {part}",
        "take {the_object} by the {part} using only your fingertips",
        "lift {an_object} by pinching {its} {part}",
        "gently pinch {the_object}'s {part}",
        "use a fingertip grip on the {part} of {the_object}",
        "squeeze the {part} of {the_object} between thumb and index finger",
        "the {part} of {the_object} {part_is} where you should pinch",
    ),
}

EVAL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "wrap": (
        "I need you to grip {the_object} around {its} {part}",
        "power-grasp {the_object}, holding it by the {part}",
        "reach for {the_object} and envelop {its} {part} with your hand",
        "please grab hold of the {part} on {the_object}",
        "with your palm and all fingers, hold {the_object} at the {part}",
    ),
    "pinch": (
        "carefully pick {the_object} up by the {part} with a pinch",
        "I need you to nip the {part} of {the_object} with your fingertips",
        "precision-grip {the_object} at {its} {part}",
        "using thumb and fingertips, take hold of the {part} on {the_object}",
        "please lift {an_object} with a light pinch on {its} {part}",
    ),
}

TEMPLATE_SETS = {"train": TRAIN_TEMPLATES, "eval": EVAL_TEMPLATES}

# Display nouns for library categories whose id is not a plain noun.
OBJECT_NOUNS = {"spray_bottle": "spray bottle", "knob_box": "box", "mug": "mug"}
_PLURAL_ONLY = {"scissors", "pliers", "tongs", "tweezers", "glasses", "binoculars", "shears", "clippers", "headphones",
                "chopsticks", "earphones", "trousers", "pants", "shorts", "jeans", "goggles"}
_SINGULAR_S = {"glass", "bus", "lens", "cactus", "chassis", "canvas", "compass", "atlas", "gas", "iris", "abacus",
               "walrus", "octopus", "hummus", "bonus", "campus", "circus", "status", "radius", "axis", "class", "boss",
               "dress", "press", "brass", "mattress", "harness", "christmas", "thermos", "fungus", "stylus", "focus"}
_AN_EXCEPTIONS = ("hour", "honest", "honor", "honour", "heir")  # silent h -> "an"
_A_EXCEPTIONS = ("uni", "use", "usu", "uten", "ure", "uro", "one", "once", "eu", "ewe")  # "you"/"w" sound -> "a"


def object_noun(category: str) -> str:
    """A category id ("spray_bottle") -> its display noun ("spray bottle")."""
    return OBJECT_NOUNS.get(category, category.replace("_", " ").strip())


def is_plural(noun: str) -> bool:
    """Heuristic number of an English noun phrase (its last word): "scissors", "blades" -> True; "glass" -> False."""
    words = noun.lower().split()
    if not words:
        return False
    last = words[-1]
    if last in _PLURAL_ONLY:
        return True
    if last in _SINGULAR_S or last.endswith(("ss", "us", "is", "ous")) or len(last) <= 3:
        return False
    return last.endswith("s")


def indefinite_article(noun: str) -> str:
    """"a" or "an" for a noun phrase, from its first word's sound (heuristic with common exceptions)."""
    word = noun.lower().strip()
    if word.startswith(_AN_EXCEPTIONS):
        return "an"
    if word.startswith(_A_EXCEPTIONS):
        return "a"
    return "an" if word[:1] in "aeiou" else "a"


def _clean_name(name: str, what: str) -> str:
    name = re.sub(r"\s+", " ", str(name).replace("_", " ")).strip()
    if not name:
        raise ValueError(f"render_instruction: {what} name is empty")
    return name


def part_noun(part_name: str, object_name: str | None = None) -> str:
    """The part as instructions write it: lower case, spaces for underscores; "body" where it repeats the object's
    noun (a bowl's "bowl"). object_name: display noun or category id (None: no such check)."""
    part = _clean_name(part_name, "part").lower()
    if object_name is not None:
        obj = _clean_name(object_noun(object_name), "object").lower()
        if part == obj or part == obj.split()[-1]:
            return "body"
    return part


def render_instruction(template: str, object_name: str, part_name: str) -> str:
    """Fill one template. object_name: display noun or category id; part_name: the part's semantic name."""
    obj = _clean_name(object_noun(object_name), "object").lower()
    part = part_noun(part_name, object_name)
    obj_plural = is_plural(obj)
    if obj_plural:
        an_object = f"a pair of {obj}" if obj.split()[-1] in _PLURAL_ONLY else f"some {obj}"
    else:
        an_object = f"{indefinite_article(obj)} {obj}"
    values = {
        "object": obj, "the_object": f"the {obj}", "an_object": an_object, "its": "their" if obj_plural else "its",
        "part": part, "the_part": f"the {part}", "part_is": "are" if is_plural(part) else "is",
    }
    try:
        text = template.format(**values)
    except KeyError as exc:
        raise ValueError(f"render_instruction: template {template!r} uses unknown placeholder {exc}") from None
    if obj.endswith("s"):
        text = text.replace(f"{obj}'s", f"{obj}'")  # "the scissors' handle"
    return re.sub(r"\s+", " ", text).strip()


def templates_for(mode: str, split: str = "train") -> tuple[str, ...]:
    """The templates of one mode ("wrap" / "pinch") in one set ("train" / "eval")."""
    if split not in TEMPLATE_SETS:
        raise ValueError(f"instructions: template split {split!r} is not one of {sorted(TEMPLATE_SETS)}")
    if mode not in MODES:
        raise ValueError(f"instructions: mode {mode!r} is not one of {MODES}")
    return TEMPLATE_SETS[split][mode]


def sample_instruction(object_name: str, part_name: str, mode: str, rng: np.random.Generator | int,
                       split: str = "train") -> str:
    """One instruction with a template drawn uniformly from the `split` set of `mode`.

    `rng`: a numpy Generator (advanced) or an int seed (deterministic).
    """
    templates = templates_for(mode, split)
    rng = np.random.default_rng(rng) if isinstance(rng, (int, np.integer)) else rng
    return render_instruction(templates[int(rng.integers(len(templates)))], object_name, part_name)


def instruction_seed(object_id: str, part_id: int, mode: str, grasp_index: int, view_index: int, seed: int = 0) -> int:
    """Deterministic per-record seed (crc32 of the ids; stable across processes and Python hash seeds)."""
    return zlib.crc32(f"{seed}/{object_id}/{part_id}/{mode}/{grasp_index}/{view_index}".encode())
