"""Every instruction fits the model's text length: each template (train and eval sets, both modes) rendered with
every library category's noun and every part name in the library, encoded with the embedded tokenizer
([BOS] + pieces + separator), is at most `max_text_len` tokens for every model variant, so none is truncated."""
import functools

import pytest

from dexvlg_jax import objects
from dexvlg_jax.data import instructions
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.models.variants import INSTRUCTION_TOKENS, VARIANTS


@functools.lru_cache(maxsize=1)
def longest_instruction() -> tuple[int, str]:
    tokenizer = Tokenizer()
    parts = sorted({name for c in objects.CATEGORIES for name in objects.make_object(c, 0).part_names})
    longest = (0, "")
    for templates in instructions.TEMPLATE_SETS.values():
        for mode_templates in templates.values():
            for template in mode_templates:
                for category in objects.CATEGORIES:
                    for part in parts:
                        text = instructions.render_instruction(template, category, part)
                        longest = max(longest, (len(tokenizer.encode_prefix(text)), text))
    return longest


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_template_is_truncated(variant):
    length, text = longest_instruction()
    assert length <= VARIANTS[variant].max_text_len, (length, text)
    assert VARIANTS[variant].max_text_len == INSTRUCTION_TOKENS
    tokens, mask = Tokenizer().encode(text, VARIANTS[variant].max_text_len)
    assert Tokenizer().decode(tokens, mask) == text
