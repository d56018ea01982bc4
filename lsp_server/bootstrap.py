"""Answer `initialize` over stdio before pygls and lsprotocol are imported, then hand over.

An editor writes `initialize` right after spawning the server and waits for the reply before
anything else. Importing pygls + lsprotocol costs ~340 ms of CPU here (lsprotocol builds ~1,000
attrs classes), more than the interpreter itself, and on a loaded machine much more. Yet the
reply depends on little: the features this server registers (fixed by its code), the
position encodings the client offers, and the `completionItems` setting (which decides whether
`completionProvider` is advertised). So `serve_stdio` reads the first message itself and, when
it is `initialize`, answers it at once from `initialize_result` (plain dicts, no pygls); then
it imports the server and starts pygls with that same message fed back first, so pygls and our
handlers initialise exactly as before (roots, settings, encoding), and swallows pygls' own
reply to it after comparing the two (a difference is logged as an error; the unit test
`tests/unit/test_bootstrap.py` compares both for every captured client and settings mode).
Messages the client sends meanwhile wait in the pipe and are read by pygls in order.

Anything unexpected (first message not `initialize`, unreadable params) skips the early reply:
the message goes to pygls unchanged, which answers it as it always did.
`DEVSTRAL_NO_BOOTSTRAP=1` turns the early reply off.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from . import __version__, command_names
from .completion.offer import ASKS_FOR_ITEMS as ASKS_FOR_ITEMS  # what test_bootstrap compares
from .completion.offer import TRIGGER_CHARACTERS, client_asks_for_items, completion_items_wanted
from .inbox import INBOX

if TYPE_CHECKING:
    from .config import CompletionItemsMode

log = logging.getLogger(__name__)

SERVER_NAME = "devstral-lsp"
PROJECT_FILE = ".devstral.json"  # config.PROJECT_FILE (config imports attrs and cattrs)

COMMANDS = list(command_names.ALL)
"""`workspace/executeCommand` commands, from their one home (`tests/unit/test_bootstrap.py`
compares this whole reply with pygls' own)."""


class Server(Protocol):
    def start_io(self, stdin: Any = None, stdout: Any = None) -> None: ...


def position_encoding(capabilities: Mapping[str, Any]) -> str:
    """The encoding `positions.negotiate` chooses from the client's offer (what
    `DevstralProtocol.lsp_initialize` + pygls' negotiation choose too)."""
    from .positions import negotiate  # a leaf module: no lsprotocol

    general = capabilities.get("general")
    offered = general.get("positionEncodings") if isinstance(general, Mapping) else None
    return str(negotiate(offered if isinstance(offered, list) else None))


def workspace_roots(params: Mapping[str, Any]) -> list[Path]:
    """Workspace folders, else rootUri, else rootPath (as `features/lifecycle.py` reads them)."""
    from .uris import uri_to_path

    roots = [p for f in params.get("workspaceFolders") or []
             if isinstance(f, Mapping) and isinstance(f.get("uri"), str)
             and (p := uri_to_path(f["uri"])) is not None]
    if not roots and isinstance(params.get("rootUri"), str):
        roots = [p] if (p := uri_to_path(params["rootUri"])) is not None else []
    if not roots and isinstance(params.get("rootPath"), str) and params["rootPath"]:
        roots = [Path(params["rootPath"])]
    return roots


def _project_config(roots: list[Path]) -> Any:
    """`.devstral.json` of the first root that has one, read as the server reads it
    (`DevstralServer.load_project_config`: bounded, never raising, FIFOs refused)."""
    for root in roots:
        path = root / PROJECT_FILE
        if os.path.lexists(path):
            from .config import read_project_file  # only when there is a file

            return read_project_file(path)[0]
    return None


def offers_completion_items(params: Mapping[str, Any], environ: Mapping[str, str]) -> bool:
    """Whether `completionProvider` is advertised: `completion/offer.py`'s
    `completion_items_wanted` (never / always / auto: clients without inline completion and
    clients whose `experimental.devstral.completionItems` asks for both), on the settings
    layers the server has at `initialize` (environment, `.devstral.json`,
    initializationOptions)."""
    caps = params.get("capabilities") or {}
    caps = caps if isinstance(caps, Mapping) else {}
    text_document = caps.get("textDocument")
    has_inline = isinstance(text_document, Mapping) and \
        text_document.get("inlineCompletion") is not None
    opts = params.get("initializationOptions")
    init_options = opts if isinstance(opts, dict) else None
    project = _project_config(workspace_roots(params))
    mode: CompletionItemsMode = "auto"  # the default; the environment cannot set it
    if "completionItems" in json.dumps([init_options, project]):
        from .config import build_settings  # attrs + cattrs: only when a layer sets it

        mode = build_settings(environ, init_options, None, project)[0].completion_items
    return completion_items_wanted(mode, client_has_inline=has_inline,
                                   client_asks=client_asks_for_items(caps.get("experimental")))


def initialize_result(params: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The `InitializeResult` the full server computes for these params, as JSON."""
    caps = params.get("capabilities")
    caps = caps if isinstance(caps, Mapping) else {}
    sync: dict[str, Any] = {"openClose": True, "change": 2}
    client_sync = (caps.get("textDocument") or {}).get("synchronization") or {}
    for key in ("willSave", "willSaveWaitUntil"):  # not served: false when the client asks
        if client_sync.get(key) is not None:
            sync[key] = False
    sync["save"] = True
    capabilities: dict[str, Any] = {"positionEncoding": position_encoding(caps),
                                    "textDocumentSync": sync}
    if offers_completion_items(params, environ):
        capabilities["completionProvider"] = {"triggerCharacters": list(TRIGGER_CHARACTERS),
                                              "resolveProvider": False}
    capabilities.update({
        "codeActionProvider": {"codeActionKinds": ["quickfix", "refactor", "refactor.rewrite",
                                                   ""],
                               "resolveProvider": True},
        "executeCommandProvider": {"commands": list(COMMANDS)},
        "inlineCompletionProvider": {},
        "workspace": {"workspaceFolders": {"supported": True, "changeNotifications": True},
                      "fileOperations": {}},
    })
    return {"capabilities": capabilities,
            "serverInfo": {"name": SERVER_NAME, "version": __version__}}


# ----- framing -------------------------------------------------------------------------------
def read_frame(stdin: BinaryIO) -> tuple[bytes, dict[str, Any] | None]:
    """One LSP message: (its raw bytes, its JSON or None when it is not a JSON object)."""
    raw = b""
    length = -1
    while True:
        line = stdin.readline()
        raw += line
        if not line:
            return raw, None
        if not line.strip():
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                return raw, None
    if length < 0:
        return raw, None
    body = stdin.read(length)
    raw += body
    try:
        msg = json.loads(body)
    except ValueError:
        return raw, None
    return raw, msg if isinstance(msg, dict) else None


def frame(msg: Mapping[str, Any]) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


class Replayed:
    """stdin with already-read bytes put back in front (pygls reads lines and exact sizes)."""

    def __init__(self, head: bytes, stdin: BinaryIO) -> None:
        self._head = head
        self._stdin = stdin

    def readline(self, size: int = -1) -> bytes:
        if self._head:
            line, sep, rest = self._head.partition(b"\n")
            self._head = rest
            line += sep
        else:
            line = self._stdin.readline(size)
        if line[:15].lower() == b"content-length:":
            INBOX.note_started()  # see inbox.py: the pipeline waits for messages in transit
        return line

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head, b""
                return out + self._stdin.read()
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._stdin.read(n - len(out))
            return out
        return self._stdin.read(n)

    def close(self) -> None:
        self._stdin.close()


class SwallowReply:
    """stdout that drops pygls' reply to the `initialize` already answered, checking it."""

    def __init__(self, stdout: BinaryIO, msg_id: Any, sent: Mapping[str, Any]) -> None:
        self._stdout = stdout
        self._id: Any = msg_id
        self._sent = sent
        self._pending = True

    def write(self, data: bytes) -> int:
        if self._pending:
            _head, _, body = data.partition(b"\r\n\r\n")
            try:
                msg = json.loads(body)
            except ValueError:
                msg = None
            if isinstance(msg, dict) and msg.get("id") == self._id and "method" not in msg:
                self._pending = False
                if msg.get("result") != self._sent:
                    log.error("the early initialize reply differs from the server's: sent %s, "
                              "server computed %s", json.dumps(self._sent),
                              json.dumps(msg.get("result", msg.get("error"))))
                return len(data)
        return self._stdout.write(data)

    def flush(self) -> None:
        self._stdout.flush()

    def close(self) -> None:
        self._stdout.close()


def serve_stdio(create_server: Callable[[], Server], stdin: BinaryIO, stdout: BinaryIO,
                environ: Mapping[str, str] | None = None) -> Server:
    """Answer `initialize` early, then run the full server on the same streams; returns the
    server once it stopped (its `exit_code` is the process's)."""
    environ = os.environ if environ is None else environ
    head, msg = read_frame(stdin)
    out: Any = stdout
    if (msg is not None and msg.get("method") == "initialize" and "id" in msg
            and isinstance(msg.get("params"), dict)
            and environ.get("DEVSTRAL_NO_BOOTSTRAP") != "1"):
        try:
            result = initialize_result(msg["params"], environ)
        except Exception:  # odd params: pygls answers them as it always did
            log.debug("no early initialize reply", exc_info=True)
        else:
            stdout.write(frame({"jsonrpc": "2.0", "id": msg["id"], "result": result}))
            stdout.flush()
            out = SwallowReply(stdout, msg["id"], result)
    server = create_server()
    server.start_io(Replayed(head, stdin), out)
    return server
