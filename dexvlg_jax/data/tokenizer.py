"""Instruction tokenizer with PaliGemma's prefix conventions: [BOS] + instruction + "\\n", padded.

The default model (`assets/instructions.model`, ~10 kB, 640 pieces) is a SentencePiece BPE model trained by
`python -m launch.train_tokenizer` on the instruction vocabulary (grasp verbs, objects, parts, wrap/pinch), with
Gemma's special ids (pad 0, eos 1, bos 2, unk 3) and byte fallback, so any text encodes. The real PaliGemma
tokenizer (`paligemma_tokenizer.model`, 257152 pieces) can be passed as `model_path` instead; the model's
`vocab_size` must then match `Tokenizer.vocab_size`.
"""
from __future__ import annotations

import os

import numpy as np

DEFAULT_MODEL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "instructions.model")
SEPARATOR = "\n"


class Tokenizer:
    """Encodes instructions into fixed-length prefix token arrays.

    Args:
      model_path: a SentencePiece `.model` file; default the embedded instruction model.
    """

    def __init__(self, model_path: str | None = None):
        import sentencepiece as spm

        self.model_path = model_path or DEFAULT_MODEL_PATH
        if not os.path.exists(self.model_path):
            raise FileNotFoundError(f"Tokenizer: SentencePiece model {self.model_path!r} does not exist")
        self._sp = spm.SentencePieceProcessor(model_file=self.model_path)

    @property
    def vocab_size(self) -> int:
        return int(self._sp.vocab_size())

    @property
    def bos_id(self) -> int:
        return int(self._sp.bos_id())

    @property
    def eos_id(self) -> int:
        return int(self._sp.eos_id())

    @property
    def pad_id(self) -> int:
        return max(int(self._sp.pad_id()), 0)

    def encode_prefix(self, instruction: str) -> list[int]:
        """[BOS] + instruction pieces + "\\n" pieces (PaliGemma's prefix; no EOS: the pose suffix follows)."""
        return [self.bos_id] + list(self._sp.encode(instruction)) + list(self._sp.encode(SEPARATOR))

    def encode(self, instructions: str | list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Encodes one or many instructions to `tokens` (N, max_len) int32 and `token_mask` (N, max_len) bool.

        Sequences longer than `max_len` are truncated, keeping the final separator. Padding uses `pad_id`.
        """
        single = isinstance(instructions, str)
        batch = [instructions] if single else list(instructions)
        tokens = np.full((len(batch), max_len), self.pad_id, np.int32)
        mask = np.zeros((len(batch), max_len), bool)
        for row, text in enumerate(batch):
            ids = self.encode_prefix(text)
            if len(ids) > max_len:
                separator = self._sp.encode(SEPARATOR)
                ids = ids[:max_len - len(separator)] + list(separator)
            tokens[row, :len(ids)] = ids
            mask[row, :len(ids)] = True
        return (tokens[0], mask[0]) if single else (tokens, mask)

    def decode(self, tokens, token_mask=None) -> str:
        """Inverse of `encode_prefix` for one row (drops BOS, padding and the separator)."""
        ids = [int(t) for i, t in enumerate(np.asarray(tokens))
               if (token_mask is None or token_mask[i]) and int(t) not in (self.bos_id, self.pad_id)]
        return self._sp.decode(ids).rstrip(SEPARATOR)
