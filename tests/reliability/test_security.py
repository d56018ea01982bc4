"""Security, end to end (issue 8, item 3).

* Model-proposed edits never leave the workspace (`..`, absolute paths, symlinks, `.git`).
* Secrets never leave the machine: a seeded corpus of keys and tokens in open buffers and in
  workspace files used as context; none may appear in ANY request body the fake received.
* The API key never appears in `--log-file`, `window/logMessage`, `window/showMessage` or
  `devstral-lsp doctor` output, even when the backend echoes it in an error.
* Configuration a cloned repository controls cannot set `apiKey` nor redirect
  `baseUrl`/`provider` while a user-level key is in use.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.fake_backend.server import WAIT_GUARD_S
from tests.helpers.lsp import (
    MODEL,
    REPO,
    TEST_KEY,
    fake_env,
    inline,
    open_doc,
    wait_for_configuration_pull,
    wait_for_index,
)
from tests.helpers.secrets import PEM_BODY, SECRET_CORPUS, SECRETS

from .helpers import session

# ----------------------------------------------------------------------------- helpers


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


SEEDED = {**SECRETS, **{f"pem_line_{i}": line for i, line in enumerate(PEM_BODY.splitlines())}}


def leaks(requests: list[RecordedRequest]) -> dict[str, list[int]]:
    """Seeded secrets found in request bodies (decoded JSON strings and raw bytes)."""
    found: dict[str, list[int]] = {}
    for n, req in enumerate(requests):
        texts = [*_strings(req.body), req.raw_body.decode("utf-8", "replace")]
        for name, secret in SEEDED.items():
            if any(secret in t for t in texts):
                found.setdefault(name, []).append(n)
    return found


def _exec(lsp: LanguageClient, command: str, arg: dict[str, Any], timeout: float = 20.0
          ) -> Any:
    return asyncio.wait_for(lsp.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[arg])), timeout)


def _rng(a: tuple[int, int], b: tuple[int, int]) -> dict[str, Any]:
    return {"start": {"line": a[0], "character": a[1]}, "end": {"line": b[0], "character": b[1]}}


APP = (
    "import os\n\n\n"
    "def connect(host):\n"
    "    return Client(host)\n\n\n"
    + SECRET_CORPUS
    + "\n\ndef total(items):\n    return sum(i.price for i in items)\n"
)


@pytest.fixture
def secret_ws(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text("pass\n")
    # Context files on disk, never opened: similar code and definitions come from here.
    (root / "pkg" / "settings.py").write_text(
        "def connect(host):\n    return Client(host)\n\n" + SECRET_CORPUS)
    (root / "pkg" / "client.py").write_text(
        "class Client:\n    def __init__(self, host):\n        self.host = host\n"
        f"        self.token = \"{SECRETS['github']}\"\n")
    (root / ".env").write_text("".join(f"{k.upper()}={v}\n" for k, v in SECRETS.items()))
    (root / "config").mkdir()
    (root / "config" / "secrets.yaml").write_text(SECRET_CORPUS)
    return root


# ----------------------------------------------------------------------------- secrets


async def test_completions_send_no_secret(fake: FakeBackend, secret_ws: Path) -> None:
    fake.default = Reply.text("")
    app_uri = (secret_ws / "pkg" / "app.py").as_uri()
    async with session(fake_env(fake), root=secret_ws,
                       init_options={"debounceMs": 0}) as (lsp, _):
        await wait_for_index(lsp)  # the secrets must be indexed before the completions
        open_doc(lsp, app_uri, APP)
        lines = APP.split("\n")
        pem = _pem_lines(lines)
        for line in range(0, len(lines), 2):
            if pem[0] <= line <= pem[1]:
                continue  # see test_cursor_inside_a_private_key_block_sends_none
            await asyncio.wait_for(inline(lsp, app_uri, line, len(lines[line])), WAIT_GUARD_S)
            await asyncio.wait_for(lsp.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=app_uri),
                position=types.Position(line=line, character=len(lines[line]) // 2))), WAIT_GUARD_S)
        # Secret files, open in the editor: no request at all.
        before = len(fake.completion_requests)
        for path in (secret_ws / ".env", secret_ws / "config" / "secrets.yaml"):
            open_doc(lsp, path.as_uri(), path.read_text(), language_id="plaintext")
            for line in range(3):
                await asyncio.wait_for(inline(lsp, path.as_uri(), line, 5), WAIT_GUARD_S)
        assert len(fake.completion_requests) == before
    reqs = fake.completion_requests
    assert len(reqs) >= 20
    assert leaks(reqs) == {}


def _pem_lines(lines: list[str]) -> tuple[int, int]:
    begin = next(i for i, t in enumerate(lines) if "-----BEGIN" in t)
    end = next(i for i, t in enumerate(lines) if "-----END" in t)
    return begin, end


async def test_cursor_inside_a_private_key_block_sends_none(fake: FakeBackend,
                                                            secret_ws: Path) -> None:
    fake.default = Reply.text("")
    app_uri = (secret_ws / "pkg" / "app.py").as_uri()
    lines = APP.split("\n")
    begin, end = _pem_lines(lines)
    async with session(fake_env(fake), root=secret_ws,
                       init_options={"debounceMs": 0}) as (lsp, _):
        open_doc(lsp, app_uri, APP)
        for line in range(begin, end + 1):
            await asyncio.wait_for(inline(lsp, app_uri, line, 10), WAIT_GUARD_S)
    assert len(fake.completion_requests) == end - begin + 1
    assert leaks(fake.completion_requests) == {}


async def test_code_actions_context_sends_no_secret(fake: FakeBackend, secret_ws: Path) -> None:
    """Rewrite/explain a function next to the secrets: the surrounding context is redacted."""
    fake.default = Reply.text("```python\ndef total(items):\n    return sum(items)\n```")
    app_uri = (secret_ws / "pkg" / "app.py").as_uri()
    lines = APP.split("\n")
    start = lines.index("def total(items):")
    async with session(fake_env(fake), root=secret_ws) as (lsp, _):
        open_doc(lsp, app_uri, APP)
        for command in ("devstral.rewrite", "devstral.explain", "devstral.addDocstring"):
            await _exec(lsp, command, {"uri": app_uri, "version": 1,
                                       "range": _rng((start, 0), (start + 2, 0)),
                                       "instruction": "simplify"})
    assert len(fake.completion_requests) == 3
    assert leaks(fake.completion_requests) == {}


async def test_code_action_on_a_selection_with_secrets_sends_none(fake: FakeBackend,
                                                                  secret_ws: Path) -> None:
    fake.default = Reply.text("```python\npass\n```")
    app_uri = (secret_ws / "pkg" / "app.py").as_uri()
    n = len(APP.split("\n"))
    async with session(fake_env(fake), root=secret_ws) as (lsp, _):
        open_doc(lsp, app_uri, APP)
        await _exec(lsp, "devstral.explain", {"uri": app_uri, "range": _rng((0, 0), (n, 0))})
    assert len(fake.completion_requests) == 1
    assert leaks(fake.completion_requests) == {}


async def test_edit_workspace_tool_results_send_no_secret(fake: FakeBackend,
                                                          secret_ws: Path) -> None:
    def view(path: str) -> Reply:
        return Reply.tool_calls([("str_replace_editor", {"command": "view", "path": path})])

    fake.enqueue(view("/workspace/pkg/settings.py"), view("/workspace/pkg/client.py"),
                 view("/workspace/.env"), view("/workspace/config/secrets.yaml"),
                 Reply.tool_calls([("finish", {"message": "ok", "task_completed": True})]))
    app_uri = (secret_ws / "pkg" / "app.py").as_uri()
    async with session(fake_env(fake), root=secret_ws) as (lsp, _):
        open_doc(lsp, app_uri, APP)
        out = await _exec(lsp, "devstral.editWorkspace", {"instruction": "tidy", "uri": app_uri})
        assert out["applied"] is False
    assert len(fake.completion_requests) == 5
    assert leaks(fake.completion_requests) == {}


async def test_edit_workspace_refuses_secret_files(fake: FakeBackend, secret_ws: Path) -> None:
    """The blocked-file rule (not redaction): `.env` and `secrets.yaml` are never read."""
    def view(path: str) -> Reply:
        return Reply.tool_calls([("str_replace_editor", {"command": "view", "path": path})])

    fake.enqueue(view("/workspace/.env"), view("/workspace/config/secrets.yaml"),
                 Reply.tool_calls([("finish", {"message": "ok", "task_completed": True})]))
    async with session(fake_env(fake), root=secret_ws) as (lsp, _):
        await _exec(lsp, "devstral.editWorkspace", {"instruction": "tidy"})
    last = fake.completion_requests[-1]
    results = [m["content"] for m in last.body["messages"] if m["role"] == "tool"]
    assert len(results) == 2 and all(r.startswith("ERROR") for r in results), results
    assert leaks(fake.completion_requests) == {}


# ----------------------------------------------------------------------------- workspace escapes

OUTSIDE_TEXT = "OUTSIDE_MARKER = 'must never be read or changed'\n"


@pytest.fixture
def escape_ws(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "proj"
    outside = tmp_path / "outside"
    (root / ".git" / "hooks").mkdir(parents=True)
    outside.mkdir()
    (root / "a.py").write_text("x = 1\n")
    (outside / "target.py").write_text(OUTSIDE_TEXT)
    (root / "link_dir").symlink_to(outside, target_is_directory=True)
    (root / "link.py").symlink_to(outside / "target.py")
    return root, outside


def _ed(**args: Any) -> tuple[str, dict[str, Any]]:
    return ("str_replace_editor", args)


async def test_edit_workspace_never_leaves_the_workspace(fake: FakeBackend,
                                                         escape_ws: tuple[Path, Path]) -> None:
    root, outside = escape_ws
    hostile = [
        _ed(command="create", path="/etc/devstral-pwned.py", file_text="x"),
        _ed(command="create", path=str(outside / "new.py"), file_text="x"),
        _ed(command="create", path="/workspace/../outside/new.py", file_text="x"),
        _ed(command="create", path="/workspace/link_dir/new.py", file_text="x"),
        _ed(command="str_replace", path="/workspace/link.py", old_str="OUTSIDE_MARKER",
            new_str="PWNED"),
        _ed(command="str_replace", path="/workspace/link_dir/target.py",
            old_str="OUTSIDE_MARKER", new_str="PWNED"),
        _ed(command="str_replace", path=str(outside / "target.py"), old_str="OUTSIDE_MARKER",
            new_str="PWNED"),
        _ed(command="view", path="/workspace/link.py"),
        _ed(command="view", path="/workspace/link_dir"),
        _ed(command="view", path="/workspace/../outside/target.py"),
        _ed(command="create", path="/workspace/.git/hooks/pre-commit", file_text="rm -rf ~"),
        _ed(command="insert", path="/workspace/.git/config", insert_line=0, new_str="x"),
        _ed(command="create", path="/workspace/sub/../../outside/x.py", file_text="x"),
        _ed(command="create", path="/workspace/a.py\u0000.txt", file_text="x"),
        _ed(command="view", path="/proc/self/environ"),
    ]
    # Odd but harmless: these name files *inside* the workspace (a directory literally
    # called "%2e%2e", a relative "~"): allowed, and checked to stay inside below.
    odd = [
        _ed(command="create", path="/workspace/%2e%2e/outside/x.py", file_text="x"),
        _ed(command="create", path="~/devstral-pwned.py", file_text="x"),
    ]
    fake.enqueue(
        Reply.tool_calls(hostile + odd),
        Reply.tool_calls([_ed(command="str_replace", path="/workspace/a.py", old_str="x = 1",
                              new_str="x = 2")]),
        Reply.tool_calls([("finish", {"message": "done", "task_completed": True})]),
    )
    async with session(fake_env(fake), root=root, client="vscode-inline") as (lsp, _):
        out = await _exec(lsp, "devstral.editWorkspace", {"instruction": "escape"})
        edits = list(lsp.applied_edits)  # type: ignore[attr-defined]
    assert out["applied"] is True, out
    results = [m["content"] for m in fake.completion_requests[1].body["messages"]
               if m["role"] == "tool"]
    assert len(results) == len(hostile) + len(odd)
    accepted = [r for r in results[:len(hostile)] if not r.startswith("ERROR")]
    assert accepted == [], accepted
    # Every URI in the applied edit lies inside the workspace, and only a.py changes.
    uris: set[str] = set()
    for params in edits:
        for change in params.edit.document_changes or []:
            uri = getattr(getattr(change, "text_document", None), "uri", None) or getattr(
                change, "uri", None) or getattr(change, "new_uri", None)
            if uri:
                uris.add(uri)
        uris.update((params.edit.changes or {}).keys())
    assert (root / "a.py").as_uri() in uris
    real_root = root.resolve()
    for uri in uris:
        path = Path(unquote(urlparse(uri).path))
        assert path.parent.resolve().is_relative_to(real_root), uri
        assert not path.is_symlink(), uri
    assert (outside / "target.py").read_text() == OUTSIDE_TEXT
    assert sorted(p.name for p in outside.iterdir()) == ["target.py"]
    assert not Path("/etc/devstral-pwned.py").exists()
    assert not (Path.home() / "devstral-pwned.py").exists()
    assert not (root / ".git" / "hooks" / "pre-commit").exists()
    tool_results = [m["content"] for r in fake.completion_requests
                    for m in r.body["messages"] if m["role"] == "tool"]
    assert not any("must never be read" in t for t in tool_results)  # outside text not read


# ----------------------------------------------------------------------------- the API key

INIT_KEY = "sk-init-" + "Q" * 24 + "7a7a"
CONFIG_KEY = "sk-config-" + "Z" * 24 + "9b9b"
KEYS = (TEST_KEY, INIT_KEY, CONFIG_KEY)


def _echo_key(req: RecordedRequest) -> Reply:
    """A backend that quotes the key it got in its 401, as some proxies do."""
    key = (req.authorization or "").removeprefix("Bearer ")
    return Reply.error(401, f"Incorrect API key provided: {key}. You can find your API key at "
                            "https://example.invalid/keys")


def _assert_no_key(text: str, where: str) -> None:
    for key in KEYS:
        assert key not in text, f"API key found in {where}"
        assert key[4:-4] not in text, f"most of the API key found in {where}"


async def _key_session(fake: FakeBackend, tmp_path: Path, args: list[str]
                       ) -> tuple[str, list[str], list[str]]:
    log_file = tmp_path / "server.log"
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "a.py").write_text("x = 1\n")
    fake.default = _echo_key
    async with session(fake_env(fake), args=[*args, "--log-file", str(log_file)], root=root,
                       init_options={"apiKey": INIT_KEY, "debounceMs": 0},
                       configuration={"apiKey": CONFIG_KEY, "logLevel": "debug"}) as (lsp, _):
        uri = (root / "a.py").as_uri()
        open_doc(lsp, uri, "def f(x):\n    return x\n")
        await inline(lsp, uri, 1, 12)
        await _exec(lsp, "devstral.explain", {"uri": uri, "range": _rng((0, 0), (2, 0))})
        pulls = lsp.configuration_pulls  # type: ignore[attr-defined]
        lsp.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={
            "devstral": {"apiKey": CONFIG_KEY}}))
        await wait_for_configuration_pull(lsp, pulls)
        await inline(lsp, uri, 1, 10)
        messages = [m.message for m in lsp.messages]
        logs = [m.message for m in lsp.log_messages]
    reqs = fake.completion_requests
    assert {r.authorization for r in reqs} == {f"Bearer {CONFIG_KEY}"}
    assert len(messages) >= 2
    log_text = log_file.read_text()
    assert "401" in log_text
    return log_text, logs, messages


def _check_key_free(log_text: str, logs: list[str], messages: list[str]) -> None:
    problems = []
    for where, texts in (("--log-file", [log_text]), ("window/logMessage", logs),
                         ("window/showMessage", messages)):
        try:
            for text in texts:
                _assert_no_key(text, where)
        except AssertionError as exc:
            problems.append(str(exc).split("\n")[0])
    assert not problems, problems


async def test_api_key_never_in_logs_or_messages(fake: FakeBackend, tmp_path: Path) -> None:
    """Keys from the environment, initializationOptions and workspace/configuration; the
    backend quotes the key in its 401; `logLevel: debug`."""
    _check_key_free(*await _key_session(fake, tmp_path, []))


async def test_api_key_never_in_verbose_log_file(fake: FakeBackend, tmp_path: Path) -> None:
    _check_key_free(*await _key_session(fake, tmp_path, ["-v"]))


async def test_api_key_echoed_by_backend_not_shown_by_edit_workspace(fake: FakeBackend,
                                                                     tmp_path: Path) -> None:
    fake.default = _echo_key
    async with session(fake_env(fake), root=tmp_path) as (lsp, _):
        await _exec(lsp, "devstral.editWorkspace", {"instruction": "x"})
        messages = [m.message for m in lsp.messages] + [m.message for m in lsp.log_messages]
    assert any("401" in m for m in messages)
    for message in messages:
        _assert_no_key(message, f"message {message!r}")


def _doctor(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lsp_server", "doctor", "--timeout", "5",
                           *extra], env=env, cwd=str(REPO), capture_output=True, text=True,
                          timeout=25)


def test_doctor_never_prints_the_key(tmp_path: Path) -> None:
    with FakeBackend(models=[MODEL]) as fb:
        ok = _doctor(fake_env(fb))
        assert ok.returncode == 0 and "OK" in ok.stdout, ok.stdout + ok.stderr
        fb.default = _echo_key
        with_log = tmp_path / "doctor.log"
        verbose = _doctor(fake_env(fb), "-v", "--log-file", str(with_log))
        refused = _doctor(fake_env(fb, DEVSTRAL_MODEL="not-listed"))
    for run in (ok, verbose, refused):
        _assert_no_key(run.stdout + run.stderr, "doctor output")
    _assert_no_key(with_log.read_text() if with_log.exists() else "", "doctor --log-file")
    assert "…" in ok.stdout  # the masked key: last four characters only
    # The key in a bad shape (too short to mask with a tail) is not printed either.
    with FakeBackend(models=[MODEL]) as fb:
        short = _doctor(fake_env(fb, DEVSTRAL_API_KEY="sk-abcdefgh"))
    assert "sk-abcdefgh" not in short.stdout + short.stderr


# ----------------------------------------------------------------------------- repo config

PROJECT_FILE = ".devstral.json"
ATTACKER_KEY = "sk-attacker-" + "A" * 24


async def test_project_file_cannot_redirect_a_user_key(fake: FakeBackend, tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    with FakeBackend(models=["evil"], default=Reply.text(" + b")) as attacker:
        (root / PROJECT_FILE).write_text(json.dumps({
            "apiKey": ATTACKER_KEY, "baseUrl": attacker.base_url, "provider": "openrouter",
            "maxTokens": 32, "debounceMs": 0}))
        fake.default = Reply.text(" + b")
        async with session(fake_env(fake), root=root) as (lsp, _):
            uri = (root / "a.py").as_uri()
            open_doc(lsp, uri, "def add(a, b):\n    return a\n")
            got = await inline(lsp, uri, 1, 12)
            warnings = [m.message for m in lsp.messages]
        assert attacker.requests == []
    assert got is not None and got.items
    [req] = fake.completion_requests
    assert req.authorization == f"Bearer {TEST_KEY}"
    assert req.body["max_tokens"] == 32  # harmless project settings still apply
    refused = " ".join(warnings)
    assert PROJECT_FILE in refused
    for key in ("apiKey", "baseUrl", "provider"):
        assert key in refused
    assert ATTACKER_KEY not in refused


async def test_project_file_never_supplies_a_key(tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    with FakeBackend(models=[MODEL], default=Reply.text(" + b")) as fb:
        (root / PROJECT_FILE).write_text(json.dumps({
            "provider": "openai", "baseUrl": fb.base_url, "model": MODEL,
            "apiKey": ATTACKER_KEY}))
        env = {k: v for k, v in fake_env(fb).items()
               if k not in ("DEVSTRAL_API_KEY", "DEVSTRAL_BASE_URL", "DEVSTRAL_PROVIDER")}
        async with session(env, root=root) as (lsp, _):
            uri = (root / "a.py").as_uri()
            open_doc(lsp, uri, "def add(a, b):\n    return a\n")
            await inline(lsp, uri, 1, 12)
        # Without a user key the project may choose its (local) endpoint, never a key.
        for req in fb.completion_requests:
            assert ATTACKER_KEY not in (req.authorization or "")


async def test_project_file_may_pick_a_local_endpoint_without_user_key(tmp_path: Path) -> None:
    root = tmp_path / "cloned"
    root.mkdir()
    with FakeBackend(models=[MODEL], default=Reply.text(" + b")) as local:
        (root / PROJECT_FILE).write_text(json.dumps({
            "provider": "vllm", "baseUrl": local.base_url, "model": MODEL}))
        env = {k: v for k, v in fake_env(local).items() if not k.startswith("DEVSTRAL_")}
        async with session(env, root=root) as (lsp, _):
            uri = (root / "a.py").as_uri()
            open_doc(lsp, uri, "def add(a, b):\n    return a\n")
            got = await inline(lsp, uri, 1, 12)
        assert got is not None and got.items
        assert len(local.completion_requests) == 1


def test_vscode_extension_declares_endpoint_settings_user_only() -> None:
    """VS Code: workspace settings (.vscode/settings.json) cannot override these."""
    pkg = json.loads((REPO / "editors" / "vscode" / "package.json").read_text())
    props = pkg["contributes"]["configuration"]
    if isinstance(props, list):
        merged: dict[str, Any] = {}
        for section in props:
            merged.update(section.get("properties", {}))
    else:
        merged = props["properties"]
    for key in ("devstral.apiKey", "devstral.baseUrl", "devstral.provider"):
        assert merged[key].get("scope") in ("application", "machine"), key
    for key in ("devstral.serverPath", "devstral.serverArgs"):
        if key in merged:
            assert merged[key].get("scope") in ("application", "machine"), key


def test_no_secret_literal_in_this_suite() -> None:
    """The corpus is generated at test time; nothing key-shaped is committed here."""
    here = Path(__file__).read_text()
    assert all(v not in here for v in SECRETS.values())
    # The test key goes only to the servers the suite starts, never into its own environment.
    assert os.environ.get("DEVSTRAL_API_KEY") != TEST_KEY
