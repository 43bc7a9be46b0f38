"""Annotators: heuristic filters / names / sizes on the library; the OpenAI-compatible client against a local
server on 127.0.0.1 (auth header, images, retry on 500, timeout, cache, strict parsing)."""
import dataclasses
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from dexvlg_jax.data.annotate import (CATEGORY_DIAGONALS, FILE_UNIT_RANGE, SIZE_RANGE, AnnotationError,
                                      HeuristicAnnotator, plausible_diagonal, set_of_marks)
from dexvlg_jax.data.annotate_http import OpenAICompatibleAnnotator
from dexvlg_jax.objects.library import CATEGORIES, make_object


@pytest.fixture(scope="module")
def mug():
    return make_object("mug", 0)


def test_heuristic_keeps_library_objects_names_and_sizes():
    annotator = HeuristicAnnotator()
    for category in CATEGORIES:
        obj = make_object(category, 1)
        assert annotator.filter_quality(obj) == (True, "ok"), category
        assert annotator.name_parts(obj) == [n.lower() for n in obj.part_names]
        size = annotator.real_size(obj)
        assert SIZE_RANGE[0] <= size <= SIZE_RANGE[1] and size == annotator.real_size(obj)


def test_unknown_category_size_reads_the_file_unit(mug):
    """A mesh of no known category: its own diagonal, in the unit (m, mm, cm, inch) that makes it plausible."""
    annotator = HeuristicAnnotator(size_jitter=0.0)
    low, high = FILE_UNIT_RANGE
    unknown = dataclasses.replace(mug, category="thing")
    metres = float(np.linalg.norm(np.ptp(unknown.vertices, axis=0)))
    target = 0.3 / metres  # a 30 cm object, inside the paper's range
    for unit in (1.0, 1e-3, 1e-2):
        scaled = dataclasses.replace(unknown, vertices=np.asarray(unknown.vertices) * target / unit)
        assert annotator.real_size(scaled) == pytest.approx(0.3, rel=1e-6), unit
    inches = dataclasses.replace(unknown, vertices=np.asarray(unknown.vertices) * 0.6 / metres / 0.0254)
    assert annotator.real_size(inches) == pytest.approx(0.6 / 2.54)  # inches read as cm (documented; --units in)
    assert plausible_diagonal(148.0, low, high) == pytest.approx(0.148)  # millimetres, then clipped by the caller
    assert plausible_diagonal(0.09, low, high) == pytest.approx(0.09)  # a small object in metres stays metres
    assert plausible_diagonal(30.0, low, high) == pytest.approx(0.3)  # centimetres
    assert plausible_diagonal(13.0, low, high) == pytest.approx(0.13)  # a 13 cm apple in centimetres, not inches
    assert plausible_diagonal(1.7, low, high) is None  # a unit-cube mesh: no unit gives a household size
    cube = dataclasses.replace(unknown, vertices=np.asarray(unknown.vertices) * 1.7 / metres)
    assert annotator.real_size(cube) == pytest.approx(np.median(list(CATEGORY_DIAGONALS.values())))


def test_heuristic_rejects_bad_meshes_with_reasons(mug):
    annotator = HeuristicAnnotator()
    holed = dataclasses.replace(mug, faces=mug.faces[:-10], face_part_ids=mug.face_part_ids[:-10])
    assert annotator.filter_quality(holed) == (False, "not watertight")
    flat = dataclasses.replace(mug, vertices=mug.vertices * np.array([1.0, 1.0, 1e-4]))
    keep, reason = annotator.filter_quality(flat)
    assert not keep and "degenerate" in reason
    sliver_ids = np.zeros_like(mug.face_part_ids)
    sliver_ids[0] = 1
    keep, reason = annotator.filter_quality(dataclasses.replace(mug, face_part_ids=sliver_ids))
    assert not keep and "sliver" in reason
    nan = dataclasses.replace(mug, vertices=np.where(np.arange(len(mug.vertices))[:, None] == 0, np.nan,
                                                     mug.vertices))
    assert annotator.filter_quality(nan)[0] is False


def test_heuristic_names_unnamed_parts_from_classes():
    kettle = make_object("kettle", 0)  # body(disk), lid(lid), handle(L), spout(shaft)
    unnamed = dataclasses.replace(kettle, part_names=[""] * 4)
    names = HeuristicAnnotator().name_parts(unnamed)
    assert names[0] == "body" and names[1] == "lid"
    assert sorted(names[2:]) == ["lower handle", "upper handle"]  # L and shaft both map to "handle"
    assert HeuristicAnnotator().name_parts(unnamed, marks=[2]) == ["lid"]


def test_set_of_marks_paints_and_numbers_parts():
    rgb = np.full((64, 64, 3), 128, np.uint8)
    mask = np.full((64, 64), -2, np.int32)
    mask[5:30, 5:30], mask[35:60, 35:60], mask[40:50, 5:20] = 0, 2, -1
    marked, marks = set_of_marks(rgb, mask)
    assert marks == [1, 3] and marked.shape == rgb.shape and marked.dtype == np.uint8
    assert np.all(marked[mask < 0] == 128)  # table / background untouched
    assert not np.all(marked[mask == 0] == 128)


class _Handler(BaseHTTPRequestHandler):
    NAMES = ["body", "handle", "lid", "spout"]

    def log_message(self, *args):
        pass

    def do_POST(self):
        state = self.server.state
        state["requests"] += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        state["bodies"].append(body)
        behaviour = state["script"].pop(0) if state["script"] else "ok"
        if self.headers.get("Authorization") != "Bearer test-key":
            return self._send(401, {"error": {"message": "bad key"}})
        if behaviour == "500":
            return self._send(500, {"error": {"message": "internal"}})
        if behaviour == "slow":
            time.sleep(0.6)
        text = body["messages"][1]["content"][0]["text"]
        images = [c for c in body["messages"][1]["content"] if c["type"] == "image_url"]
        assert all(c["image_url"]["url"].startswith("data:image/png;base64,") for c in images)
        if behaviour == "garbage":
            content = "I think it is a nice mug!"
        elif "diagonal" in text:
            content = json.dumps({"diagonal_m": 0.31})
        elif "numbered" in text or "number." in text:
            marks = [int(m) for m in re.findall(r'"(\d+)": "<name>"', text)]
            content = "```json\n" + json.dumps({"parts": {str(m): self.NAMES[m - 1] for m in marks}}) + "\n```"
        else:
            content = json.dumps({"keep": True, "reason": "a complete mug"})
        self._send(200, {"id": "x", "object": "chat.completion",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})

    def _send(self, code, payload):
        data = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = {"requests": 0, "bodies": [], "script": []}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _client(server, tmp_path, **kwargs):
    options = dict(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", model="test-model",
                   api_key_env="DEXVLG_TEST_KEY", timeout_s=0.3, max_retries=2, backoff_s=0.01,
                   cache_dir=tmp_path / "cache")
    options.update(kwargs)
    return OpenAICompatibleAnnotator(**options)


def test_http_annotator_tasks_retry_and_cache(server, tmp_path, monkeypatch, mug):
    monkeypatch.setenv("DEXVLG_TEST_KEY", "test-key")
    views = [np.zeros((16, 16, 3), np.uint8), np.full((16, 16, 3), 200, np.uint8)]
    client = _client(server, tmp_path)
    server.state["script"] = ["500"]  # first request fails once: retried
    assert client.filter_quality(mug, views) == (True, "a complete mug")
    assert server.state["requests"] == 2
    body = server.state["bodies"][-1]
    assert body["model"] == "test-model" and len(body["messages"][1]["content"]) == 3
    assert client.name_parts(mug, views, marks=[1, 2]) == ["body", "handle"]
    assert client.real_size(mug, views) == pytest.approx(0.31)
    sent = server.state["requests"]
    # Same questions again, by a fresh client: all answered from the disk cache.
    again = _client(server, tmp_path)
    assert again.filter_quality(mug, views) == (True, "a complete mug")
    assert again.name_parts(mug, views, marks=[1, 2]) == ["body", "handle"]
    assert server.state["requests"] == sent and again.num_requests == 0


def test_http_annotator_timeout_garbage_and_auth(server, tmp_path, monkeypatch, mug):
    monkeypatch.setenv("DEXVLG_TEST_KEY", "test-key")
    client = _client(server, tmp_path, cache_dir=None)
    server.state["script"] = ["slow"]  # first attempt times out (0.3 s), the retry succeeds
    assert client.real_size(mug) == pytest.approx(0.31)
    server.state["script"] = ["slow"] * 3
    with pytest.raises(AnnotationError, match="'size'.*gave up after 3 attempts"):
        client.real_size(mug)
    server.state["script"] = ["garbage"]
    with pytest.raises(AnnotationError, match=r"'quality'.*not valid JSON.*nice mug"):
        client.filter_quality(mug)
    monkeypatch.setenv("DEXVLG_TEST_KEY", "wrong")
    with pytest.raises(AnnotationError, match="HTTP 401"):
        client.filter_quality(mug)
    monkeypatch.delenv("DEXVLG_TEST_KEY")
    with pytest.raises(AnnotationError, match="DEXVLG_TEST_KEY"):
        client.filter_quality(mug)


def test_http_annotator_rejects_wrong_marks(server, tmp_path, monkeypatch, mug):
    monkeypatch.setenv("DEXVLG_TEST_KEY", "test-key")
    client = _client(server, tmp_path)
    _Handler.NAMES = ["body", "", "lid", "spout"]  # an empty name for mark 2
    try:
        with pytest.raises(AnnotationError, match="'parts'.*non-empty"):
            client.name_parts(mug, marks=[1, 2])
    finally:
        _Handler.NAMES = ["body", "handle", "lid", "spout"]
    assert not list((tmp_path / "cache").glob("parts-*"))  # invalid answers are not cached
