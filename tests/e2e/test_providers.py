"""Presets, discovery, the zero-config local probe, the not-found path and the two roles, over
stdio against fakes that answer like each provider (tests/fake_backend/profiles.py).

Real endpoints are remote (or on the real 11434, 8000, …), so each test points the preset at a
fake on 127.0.0.1 with `DEVSTRAL_BASE_URL` (or injects the probe's ports): everything else —
the preset's prompt mode, key variable, model choice from `/v1/models` — is the preset's own.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fake_backend import FakeBackend, Reply
from tests.helpers.lsp import REPO, TEST_KEY, inline, lsp_session, open_doc, server_env

URI = "file:///tmp/devstral-providers/f.py"
TEXT = "def add(a, b):\n    return a\n"


async def discovered(lsp: LanguageClient) -> str:
    """Wait (for the event, not the clock) until the server logs that discovery finished."""
    while True:
        for msg in lsp.log_messages:
            if "discovery done" in msg.message:
                return msg.message
        await lsp.wait_for_notification(types.WINDOW_LOG_MESSAGE)


def _errors(lsp: LanguageClient) -> list[str]:
    return [m.message for m in lsp.messages if m.type == types.MessageType.Error]


# preset, fake profile, served ids, key variable,
# (expected completion path, model), expected main-role model, prompt-shape check
PRESET_CASES: list[tuple[str, str, list[str], str | None, tuple[str, str], str]] = [
    ("mistral", "mistral",
     ["mistral-small-latest", "mistral-small-2603", "mistral-medium-3-5", "codestral-latest",
      "codestral-2508", "devstral-small-2507"],
     "MISTRAL_API_KEY", ("/v1/fim/completions", "codestral-latest"), "mistral-small-latest"),
    ("codestral", "mistral", ["codestral-latest", "codestral-2508"], "CODESTRAL_API_KEY",
     ("/v1/fim/completions", "codestral-latest"), "codestral-latest"),
    ("openrouter", "openrouter",
     ["mistralai/devstral-2512", "mistralai/devstral-small", "openai/gpt-5-mini"],
     "OPENROUTER_API_KEY", ("/v1/chat/completions", "mistralai/devstral-small"),
     "mistralai/devstral-2512"),
    ("bazaarlink", "openai", ["mistralai/devstral-small", "qwen/qwen3-coder"],
     "BAZAARLINK_API_KEY", ("/v1/chat/completions", "mistralai/devstral-small"),
     "mistralai/devstral-small"),
    ("vllm", "vllm", ["mistralai/Devstral-Small-2-24B-Instruct-2512"], None,
     ("/v1/chat/completions", "mistralai/Devstral-Small-2-24B-Instruct-2512"),
     "mistralai/Devstral-Small-2-24B-Instruct-2512"),
    ("ollama", "ollama", ["qwen3:8b", "devstral-small-2:latest", "devstral:latest"], None,
     ("/v1/chat/completions", "devstral-small-2:latest"), "devstral-small-2:latest"),
    ("lmstudio", "lmstudio", ["text-embedding-nomic-embed-text-v1.5",
                              "mistralai/devstral-small-2-2512"], None,
     ("/v1/chat/completions", "mistralai/devstral-small-2-2512"),
     "mistralai/devstral-small-2-2512"),
    ("llamacpp", "llamacpp", ["Devstral-Small-2-24B-Instruct-2512-Q4_K_M.gguf"], None,
     ("/v1/chat/completions", "Devstral-Small-2-24B-Instruct-2512-Q4_K_M.gguf"),
     "Devstral-Small-2-24B-Instruct-2512-Q4_K_M.gguf"),
    ("openai", "openai", ["gpt-5-mini", "devstral-small-2"], "OPENAI_API_KEY",
     ("/v1/chat/completions", "devstral-small-2"), "devstral-small-2"),
]
RETIRED = {"devstral-small-2507": {"deprecation": "2026-05-31T12:00:00Z"},
           "codestral-2508": {"deprecation": "2027-02-28T12:00:00Z"}}


def _reply_for(req: Any) -> Reply:
    return Reply.text(" + b")


@pytest.mark.parametrize("case", PRESET_CASES, ids=[c[0] for c in PRESET_CASES])
async def test_preset_discovers_and_completes(case: tuple[Any, ...]) -> None:
    preset, profile, served, key_var, (path, comp_model), main_model = case
    with FakeBackend(models=served, profile=profile, model_meta=RETIRED,
                     reject_unknown_models=True, echo_prefix=preset != "vllm",
                     default=_reply_for) as fb:
        env = server_env({"DEVSTRAL_PROVIDER": preset, "DEVSTRAL_BASE_URL": fb.base_url})
        if key_var:
            env[key_var] = TEST_KEY
        async with lsp_session(env) as (lsp, _):
            roles = await discovered(lsp)
            open_doc(lsp, URI, TEXT)
            got = await inline(lsp, URI, 1, 12)
            assert not _errors(lsp)
        assert got is not None and got.items, roles
        [listing] = [r for r in fb.requests if r.path == "/v1/models"]
        [req] = fb.completion_requests
        assert (req.path, req.model) == (path, comp_model)
        assert f"and the agent: {main_model} at" in roles
        assert req.authorization == (f"Bearer {TEST_KEY}" if key_var else "Bearer none")
        assert listing.authorization == req.authorization
        if preset == "vllm":
            assert req.continue_final_message  # prefix continuation, vLLM style
        if preset == "mistral":
            assert req.suffix is not None  # FIM: prompt + suffix


async def test_local_probe_uses_the_first_runtime_serving_devstral() -> None:
    with FakeBackend(models=["qwen3:8b"], profile="ollama") as ollama, \
            FakeBackend(models=["mistralai/devstral-small-2-2512"], profile="lmstudio",
                        default=Reply.text(" + b")) as lmstudio:
        env = server_env({"DEVSTRAL_LOCAL_PROBE":
                          f"ollama:{ollama.port},lmstudio:{lmstudio.port},vllm:{_closed()}"})
        async with lsp_session(env) as (lsp, _):
            open_doc(lsp, URI, TEXT)
            got = await inline(lsp, URI, 1, 12)  # waits for the probe: nothing else to use
            assert not _errors(lsp)
            logs = " ".join(m.message for m in lsp.log_messages)
        assert got is not None and got.items
        assert ollama.completion_requests == []
        [req] = lmstudio.completion_requests
        assert req.model == "mistralai/devstral-small-2-2512"
        assert f"using lmstudio at {lmstudio.base_url}" in logs


async def _messages_after_three_empty_tries(probe: str) -> list[str]:
    """Three invoked completions with nothing configured: each empty; what the user saw."""
    async with lsp_session(server_env({"DEVSTRAL_LOCAL_PROBE": probe})) as (lsp, _):
        open_doc(lsp, URI, TEXT)
        for _ in range(3):
            got = await inline(lsp, URI, 1, 12)
            assert got is None or not got.items
        return [m.message for m in lsp.messages]


async def test_local_probe_with_nothing_serving_says_what_to_run() -> None:
    with FakeBackend(models=["qwen3:8b"], profile="ollama") as ollama:
        [message] = await _messages_after_three_empty_tries(
            f"ollama:{ollama.port},vllm:{_closed()}")
        assert ollama.completion_requests == []
    assert "no Devstral model" in message and "qwen3:8b" in message
    assert "ollama pull devstral-small-2" in message and "MISTRAL_API_KEY" in message


async def test_nothing_configured_nothing_local_is_one_message() -> None:
    [message] = await _messages_after_three_empty_tries(
        f"ollama:{_closed()},llamacpp:{_closed()}")
    assert "ollama pull devstral-small-2" in message and "MISTRAL_API_KEY" in message


def _closed() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_model_the_endpoint_does_not_serve_is_one_message_naming_the_closest() -> None:
    served = ["mistral-small-latest", "mistral-medium-3-5", "codestral-latest"]
    with FakeBackend(models=served, profile="mistral", reject_unknown_models=True) as fb:
        env = server_env({"DEVSTRAL_PROVIDER": "mistral", "DEVSTRAL_BASE_URL": fb.base_url,
                          "MISTRAL_API_KEY": TEST_KEY,
                          "DEVSTRAL_MODEL": "devstral-small-latest"})
        async with lsp_session(env, init_options={"completionModel": "devstral-small-latest"}
                               ) as (lsp, _):
            open_doc(lsp, URI, TEXT)
            for _ in range(3):
                got = await inline(lsp, URI, 1, 12)
                assert got is not None and not got.items
            errors = _errors(lsp)
        assert [r.status for r in fb.completion_requests][:1] == [400]  # Mistral's invalid_model
    [error] = errors
    assert "'devstral-small-latest'" in error and "closest served" in error
    assert "mistral-small-latest" in error


async def test_two_roles_two_models(tmp_path: Path) -> None:
    source = "import os\n\n\ndef add(a, b):\n    return a\n\n\nprint(add(1, 2))\n"
    (tmp_path / "calc.py").write_text(source)
    uri = (tmp_path / "calc.py").as_uri()
    fast_key = "sk-fast-" + "F" * 24
    with FakeBackend(models=["devstral-small-2"], default=Reply.text(
            "```python\n    return a + b\n```")) as main, \
            FakeBackend(models=["codestral-latest"], default=Reply.text(" + b")) as fast:
        env = server_env({"DEVSTRAL_PROVIDER": "openai", "DEVSTRAL_BASE_URL": main.base_url,
                          "DEVSTRAL_MODEL": "devstral-small-2", "DEVSTRAL_API_KEY": TEST_KEY})
        init = {"completionBaseUrl": fast.base_url, "completionModel": "codestral-latest",
                "completionApiKey": fast_key, "promptMode": "fim"}
        async with lsp_session(env, root=tmp_path, init_options=init) as (lsp, _):
            open_doc(lsp, uri, source)
            got = await inline(lsp, uri, 4, 12)
            rng = {"start": {"line": 4, "character": 4}, "end": {"line": 4, "character": 12}}
            out = await lsp.workspace_execute_command_async(types.ExecuteCommandParams(
                command="devstral.rewrite",
                arguments=[{"uri": uri, "range": rng, "instruction": "return the sum"}]))
            logs = " ".join(m.message for m in lsp.log_messages)
        assert got is not None and got.items and out["applied"] is True
        urls = main.base_url, fast.base_url
    [comp] = fast.completion_requests
    assert comp.model == "codestral-latest" and comp.path == "/v1/completions"
    assert comp.authorization == f"Bearer {fast_key}"
    [act] = main.completion_requests
    assert act.model == "devstral-small-2" and act.authorization == f"Bearer {TEST_KEY}"
    assert f"completions: codestral-latest at {urls[1]}" in logs
    assert f"the agent: devstral-small-2 at {urls[0]}" in logs


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lsp_server", "doctor"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_doctor_shows_sources_roles_and_deprecation_dates() -> None:
    served = ["mistral-small-latest", "codestral-2508", "codestral-latest"]
    meta = {"codestral-latest": {"deprecation": "2027-02-28T12:00:00Z",
                                 "aliases": ["codestral-2508"]}}
    with FakeBackend(models=served, profile="mistral", model_meta=meta) as fb:
        out = _doctor(server_env({"DEVSTRAL_BASE_URL": fb.base_url, "DEVSTRAL_PROVIDER":
                                  "mistral", "MISTRAL_API_KEY": TEST_KEY}))
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "provider: 'mistral'  (environment (DEVSTRAL_PROVIDER))" in text
    assert "maxTokens: 128  (default)" in text
    assert "(from environment (MISTRAL_API_KEY))" in text
    assert "completions: codestral-latest" in text
    assert "code actions and the agent: mistral-small-latest" in text
    assert "retires on 2027-02-28" in text and "capabilities: chat, fim, tools" in text
    assert TEST_KEY not in text + out.stderr


def test_doctor_names_the_typo_once_and_not_a_missing_key() -> None:
    out = _doctor(server_env({"DEVSTRAL_PROVIDER": "olama"}))
    assert out.returncode == 2
    both = out.stdout + out.stderr
    assert both.count("olama") == 1, both
    assert "did you mean 'ollama'" in both and "MISTRAL_API_KEY" not in both


def test_cli_complete_reports_an_invalid_value_exactly_once() -> None:
    out = subprocess.run([sys.executable, "-m", "lsp_server", "complete",
                          f"{REPO / 'examples' / 'fib.py'}:8:9"],
                         env=server_env({"DEVSTRAL_PROVIDER": "olama"}), cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert (out.stdout + out.stderr).count("olama") == 1, out.stderr


def test_doctor_zero_config_probe_finds_local_devstral() -> None:
    with FakeBackend(models=["devstral-small-2:latest"], profile="ollama") as ollama:
        out = _doctor(server_env({"DEVSTRAL_LOCAL_PROBE": f"ollama:{ollama.port}"}))
        url = ollama.base_url
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"devstral-small-2:latest at {url} (ollama" in out.stdout
    assert json.dumps("auto") in out.stdout.replace("'", '"')
