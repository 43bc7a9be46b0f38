"""`OpenAICompatibleAnnotator`: the annotation tasks asked of any OpenAI-compatible chat-completions endpoint.

Request: POST {base_url}/chat/completions, `Authorization: Bearer <key from $api_key_env>`, body
`{"model", "temperature": 0, "messages": [system, user], "response_format": {"type": "json_object"}}`; the user
message holds the prompt text and the images as `{"type": "image_url", "image_url": {"url":
"data:image/png;base64,..."}}` parts (the OpenAI vision format, also spoken by vLLM, SGLang, Ollama, LiteLLM...).

Answers (strict JSON objects, parsed from `choices[0].message.content`; a ```json fence is tolerated):
  quality: {"keep": true|false, "reason": "<text>"}
  parts:   {"parts": {"<mark>": "<name>", ...}} with exactly the requested marks
  size:    {"diagonal_m": <number>} (clipped to size_range)

Robustness: per-request timeout; retries with exponential backoff (x2, capped; honours Retry-After) on HTTP 429 /
5xx, connection errors and timeouts; at most `max_retries` retries; responses larger than `max_response_bytes`
are refused. Valid answers are cached on disk (`cache_dir`, one JSON file per request keyed by the SHA-256 of
the request body without the key), so a re-run asks nothing twice. Any failure raises `AnnotationError` naming
the task, the object and the raw answer. Standard library only.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

import numpy as np

from dexvlg_jax import atomic_io
from dexvlg_jax.data.annotate import SIZE_RANGE, AnnotationError, Annotator, default_marks

SYSTEM_PROMPT = ("You annotate 3D object models for a robot-grasping dataset. Answer with one JSON object only, "
                 "exactly in the requested format.")
QUALITY_PROMPT = ("These are rendered views of a 3D model labelled as a {category!r}. Is it a single, complete, "
                  "well-formed, recognisable household object suitable for grasping (not a scene, not broken, not a "
                  'fragment)? Answer {{"keep": true or false, "reason": "<short reason>"}}.')
PARTS_PROMPT = ("These views of a {category!r} show its parts painted in distinct colours, each labelled with a "
                "number. Name each numbered part with a short common English noun phrase (e.g. \"handle\", \"lid\", "
                '"spout", "blade"). Answer {{"parts": {{{example}}}}} with exactly the numbers {marks}.')
SIZE_PROMPT = ("These are views of a {category!r}. Estimate the real-world length of the diagonal of its "
               'axis-aligned bounding box, in metres. Answer {{"diagonal_m": <number>}}.')
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def image_data_url(image: np.ndarray) -> str:
    """RGB (H, W, 3) uint8 -> "data:image/png;base64,..." URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def parse_json_answer(task: str, object_name: str, content) -> dict:
    """Strictly parse a model answer into a JSON object (a surrounding ```json fence is allowed)."""
    if not isinstance(content, str):
        raise AnnotationError(task, object_name, "answer content is not text", repr(content))
    text = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.S)
    text = fenced.group(1) if fenced else text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationError(task, object_name, f"answer is not valid JSON ({exc.msg})", content) from None
    if not isinstance(value, dict):
        raise AnnotationError(task, object_name, "answer is not a JSON object", content)
    return value


class OpenAICompatibleAnnotator(Annotator):
    """Annotator backed by an OpenAI-compatible chat-completions endpoint (see the module docstring).

    Args:
      base_url: API root, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1".
      model: model name sent in the request (the paper used GPT-4o).
      api_key_env: environment variable holding the key (read at request time; a missing key is an error unless
        `require_key=False`, for local servers without auth).
      timeout_s: per-request timeout; max_retries: retries after the first attempt; backoff_s / max_backoff_s:
        first and largest retry delay; cache_dir: answer cache directory (None = no cache); json_mode: send
        response_format json_object; size_range: clip of real_size (metres).
    """

    def __init__(self, base_url: str = "https://api.openai.com/v1", model: str = "gpt-4o",
                 api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 60.0, max_retries: int = 4,
                 backoff_s: float = 1.0, max_backoff_s: float = 30.0, cache_dir: str | os.PathLike | None = None,
                 json_mode: bool = True, require_key: bool = True, size_range: tuple[float, float] = SIZE_RANGE,
                 max_response_bytes: int = 1 << 20, image_detail: str = "low"):
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key_env, self.timeout_s = model, api_key_env, float(timeout_s)
        self.max_retries, self.backoff_s, self.max_backoff_s = int(max_retries), float(backoff_s), float(max_backoff_s)
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self.json_mode, self.require_key, self.size_range = json_mode, require_key, tuple(size_range)
        self.max_response_bytes, self.image_detail = int(max_response_bytes), image_detail
        self.num_requests = 0  # HTTP requests actually sent (cache hits excluded)

    # ---- the three tasks -------------------------------------------------------------------------------------

    def filter_quality(self, obj, views: Sequence[np.ndarray] = ()) -> tuple[bool, str]:
        def validate(answer):
            keep, reason = answer.get("keep"), answer.get("reason", "")
            if not isinstance(keep, bool) or not isinstance(reason, str):
                raise AnnotationError("quality", obj.name, 'expected {"keep": bool, "reason": str}',
                                      json.dumps(answer))
            return keep, reason or ("ok" if keep else "rejected")

        return self._ask("quality", obj, QUALITY_PROMPT.format(category=str(obj.category)), views, validate)

    def name_parts(self, obj, marked_views: Sequence[np.ndarray] = (), marks: Sequence[int] | None = None
                   ) -> list[str]:
        marks = default_marks(obj) if marks is None else [int(m) for m in marks]
        example = ", ".join(f'"{m}": "<name>"' for m in marks)
        prompt = PARTS_PROMPT.format(category=str(obj.category), example=example, marks=marks)

        def validate(answer):
            parts, raw = answer.get("parts"), json.dumps(answer)
            if not isinstance(parts, dict) or set(parts) != {str(m) for m in marks}:
                raise AnnotationError("parts", obj.name, f"expected names for exactly the marks {marks}", raw)
            names = [parts[str(m)] for m in marks]
            if not all(isinstance(n, str) and n.strip() and len(n) <= 64 for n in names):
                raise AnnotationError("parts", obj.name, "part names must be non-empty strings (<= 64 chars)", raw)
            return [re.sub(r"\s+", " ", n).strip().lower() for n in names]

        return self._ask("parts", obj, prompt, marked_views, validate)

    def real_size(self, obj, views: Sequence[np.ndarray] = ()) -> float:
        def validate(answer):
            value = answer.get("diagonal_m")
            if (isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value)
                    or value <= 0):
                raise AnnotationError("size", obj.name, 'expected {"diagonal_m": positive number}',
                                      json.dumps(answer))
            return float(np.clip(value, *self.size_range))

        return self._ask("size", obj, SIZE_PROMPT.format(category=str(obj.category)), views, validate)

    # ---- transport --------------------------------------------------------------------------------------------

    def request_body(self, prompt: str, images: Sequence[np.ndarray]) -> dict:
        content = [{"type": "text", "text": prompt}]
        content += [{"type": "image_url", "image_url": {"url": image_data_url(im), "detail": self.image_detail}}
                    for im in images]
        body = {"model": self.model, "temperature": 0,
                "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def _ask(self, task: str, obj, prompt: str, images: Sequence[np.ndarray], validate):
        """Cached request -> parsed JSON answer -> validate(answer) -> result. Only answers that pass
        `validate` are cached, so a re-run retries garbage instead of replaying it."""
        body = json.dumps(self.request_body(prompt, images), sort_keys=True).encode()
        key = hashlib.sha256(self.base_url.encode() + b"\n" + body).hexdigest()
        cache_path = os.path.join(self.cache_dir, f"{task}-{key}.json") if self.cache_dir else None
        if cache_path and os.path.exists(cache_path):
            with open(cache_path, encoding="utf-8") as f:
                return validate(json.load(f)["answer"])
        answer = parse_json_answer(task, obj.name, self._post(task, obj.name, body))
        result = validate(answer)
        if cache_path:
            atomic_io.write_json(cache_path, {"task": task, "object": obj.name, "model": self.model,
                                              "answer": answer})
        return result

    def _post(self, task: str, object_name: str, body: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(self.api_key_env, "")
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        elif self.require_key:
            raise AnnotationError(task, object_name, f"environment variable {self.api_key_env} (API key) is not set")
        url = f"{self.base_url}/chat/completions"
        last_error = "no attempt"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                self.num_requests += 1
                request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read(self.max_response_bytes + 1)
                if len(raw) > self.max_response_bytes:
                    raise AnnotationError(task, object_name, f"response over {self.max_response_bytes} bytes")
                return self._content(task, object_name, raw)
            except urllib.error.HTTPError as exc:
                detail = exc.read(2000).decode("utf-8", "replace") if exc.fp is not None else ""
                last_error = f"HTTP {exc.code} from {url}: {detail[:300]}"
                if exc.code not in _RETRY_STATUS:
                    raise AnnotationError(task, object_name, last_error) from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
            except (urllib.error.URLError, http.client.HTTPException, socket.timeout, TimeoutError,
                    ConnectionError) as exc:
                last_error = f"{type(exc).__name__} from {url}: {getattr(exc, 'reason', exc)}"
            if attempt < self.max_retries:
                delay = min(self.backoff_s * 2**attempt, self.max_backoff_s)
                try:
                    delay = min(max(delay, float(retry_after)), self.max_backoff_s) if retry_after else delay
                except ValueError:
                    pass
                time.sleep(delay)
        raise AnnotationError(task, object_name, f"gave up after {self.max_retries + 1} attempts: {last_error}")

    @staticmethod
    def _content(task: str, object_name: str, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace")
        try:
            return json.loads(text)["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise AnnotationError(task, object_name, "response is not a chat completion", text) from None
