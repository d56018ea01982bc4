"""The openai SDK loaded through `model/sdk.py`: its re-export-only packages made lazy give the
very objects their `__init__` would bind, the unused API types are never imported, `trio` is
hidden only while the transport is imported, and every gateway call (chat stream, completions,
FIM, chat with tools, a translated HTTP error, the models list) works on the lazily loaded SDK
against the fake backend. The lazy import only happens in a fresh interpreter (this test process
may have imported `openai` already), so the checks run in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_server.model.sdk import reexports

REPO = Path(__file__).resolve().parents[2]


def run_fresh(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=str(REPO), timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_reexports_maps_names_or_refuses() -> None:
    source = ('"""doc"""\nfrom __future__ import annotations\n'
              "from .chat_model import ChatModel as ChatModel, Other\n"
              "from . import completions as completions\n")
    assert reexports(source) == {"ChatModel": ("chat_model", "ChatModel"),
                                 "Other": ("chat_model", "Other"),
                                 "completions": ("completions", None)}
    for other in ("X = 1\n", "from .a import *\n", "import os\n", "from os import path\n",
                  "try:\n    from .a import b\nexcept ImportError:\n    pass\n",
                  "from ..a import b\n", "def broken(:\n"):
        assert reexports("from .a import A as A\n" + other) is None, other


LAZY_CHECK = r"""
import importlib, json, os, sys
from lsp_server.model.sdk import LAZY_ROOTS, load_openai, reexports
openai = load_openai()
loaded = sorted(m for m in sys.modules if m.startswith("openai"))
result = {"loaded": len(loaded),
          "responses": sum(m.startswith("openai.types.responses.") for m in loaded),
          "trio_loaded": "trio" in sys.modules, "mismatch": [], "packages": 0}
# Every re-export-only package of the SDK, made lazy, binds what its own __init__ binds.
base = os.path.dirname(openai.__file__)
for dirpath, _dirs, files in os.walk(base):
    rel = os.path.relpath(dirpath, os.path.dirname(base)).replace(os.sep, ".")
    if "__init__.py" not in files or "__pycache__" in rel:
        continue
    if not any(rel == root or rel.startswith(root + ".") for root in LAZY_ROOTS):
        continue
    source = open(os.path.join(dirpath, "__init__.py")).read()
    if reexports(source) is None:
        continue
    lazy = importlib.import_module(rel)
    result["packages"] += 1
    namespace = {"__name__": rel, "__package__": rel}
    exec(compile(source, dirpath + "/__init__.py", "exec"), namespace)
    names = {k for k, v in namespace.items()  # not `annotations` of `from __future__`
             if not k.startswith("__") and type(v).__module__ != "__future__"}
    if names != set(reexports(source)):
        result["mismatch"].append(rel + ": names differ")
    for name in names:
        if getattr(lazy, name) is not namespace.get(name):
            result["mismatch"].append(rel + "." + name)
    if set(dir(lazy)) < names:
        result["mismatch"].append(rel + ": dir() misses names")
try:
    import trio  # noqa: F401  (hidden only while the SDK loads)
    result["trio_importable"] = True
except ImportError:
    result["trio_importable"] = None  # not installed here
print(json.dumps(result))
"""


def test_lazy_packages_bind_what_their_init_binds() -> None:
    result = json.loads(run_fresh(LAZY_CHECK))
    assert result["responses"] < 10, "the Responses API types were imported"
    assert result["loaded"] < 250, result["loaded"]  # ~800 when `openai.types` runs eagerly
    assert not result["trio_loaded"]
    assert result["trio_importable"] in (True, None)
    assert result["packages"] >= 30
    assert result["mismatch"] == []


GATEWAY_CHECK = r"""
import asyncio, json, sys
from lsp_server.model.endpoint import Endpoint
from lsp_server.model.client import BackendError, ModelClient
from lsp_server.model.prompts import ModelRequest
from tests.fake_backend import FakeBackend, Reply

async def main():
    out = {}
    with FakeBackend(models=["m", "n"]) as fb:
        client = ModelClient(Endpoint(provider="mistral", base_url=fb.base_url, model="m",
                                      api_key="sk-lazy-0123456789"))
        fb.enqueue(Reply.text("return a + b"))
        chat = ModelRequest("chat", {"model": "m", "messages": [
            {"role": "user", "content": "def add(a, b):\n    "}]})
        out["chat"] = (await client.stream_completion(chat, timeout_s=30)).text
        fb.enqueue(Reply.text("a - b"))
        plain = ModelRequest("completions", {"model": "m", "prompt": "def sub(a, b): return ",
                                             "max_tokens": 8})
        out["completions"] = (await client.stream_completion(plain, timeout_s=30)).text
        fb.enqueue(Reply.text("a * b"))
        fim = ModelRequest("fim", {"model": "m", "prompt": "def mul(a, b): return ",
                                   "suffix": "\n", "max_tokens": 8})
        out["fim"] = (await client.stream_completion(fim, timeout_s=30)).text
        fb.enqueue(Reply.tool_calls([("think", {"thought": "ok"})]))
        reply = await client.chat(messages=[{"role": "user", "content": "x"}], timeout_s=30,
                                  tools=[{"type": "function", "function": {"name": "think"}}])
        out["tool"] = [c.name for c in reply.tool_calls]
        fb.enqueue(Reply.error(404, "no such model"))
        try:
            await client.chat(messages=[{"role": "user", "content": "x"}], timeout_s=30)
        except BackendError as exc:
            out["error"] = exc.kind
        out["models"] = await client.list_models()
        await client.aclose()
    out["responses"] = sum(m.startswith("openai.types.responses.") for m in sys.modules)
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.slow
def test_gateway_calls_work_on_the_lazily_loaded_sdk() -> None:
    out = json.loads(run_fresh(GATEWAY_CHECK))
    assert out.pop("responses") < 10  # of ~250 when `openai.types.responses` runs eagerly
    assert out == {"chat": "return a + b", "completions": "a - b", "fim": "a * b",
                   "tool": ["think"], "error": "not_found", "models": ["m", "n"]}
