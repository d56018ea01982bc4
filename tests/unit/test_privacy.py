"""Privacy: secret files, ignore files, path policy and redaction (no leaks, no false alarms)."""

from __future__ import annotations

import re
import re._parser as re_parser
from pathlib import Path
from typing import Any

import pytest

from lsp_server.privacy import redaction
from lsp_server.privacy.policy import PrivacyGuard, is_blocked
from lsp_server.privacy.redaction import Redactor, shannon_entropy
from lsp_server.privacy.secret_files import secret_file_reason
from tests.helpers.secrets import PEM_BODY, SECRET_CORPUS, SECRETS

ORDINARY_CODE = '''
import hashlib
import uuid
from typing import Any

API_BASE = "https://api.mistral.ai/v1"
TOKEN_URL = "https://oauth2.googleapis.com/token"
key = "name"
sort_key = "created_at"
cache_key = f"user:{user_id}:profile"
primary_key = "id"
password_field = "password"
password = os.environ["DB_PASSWORD"]
token = request.headers.get("Authorization")
secret = get_secret(name="db")
api_key = settings.MISTRAL_API_KEY
token_type = "bearer"
KEY_FILE = "/etc/ssl/private/server.pem"
SESSION_ID = "123e4567-e89b-12d3-a456-426614174000"
request_id = uuid.UUID("9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b")
digest = hashlib.sha256(b"abc").hexdigest()
COMMIT = "9fceb02d0ae598e95dc970b74767f19372d61af8"
def get_token(self, scope: str) -> str:
    """Return a token for `scope`, refreshing it when expired."""
    return self._tokens.setdefault(scope, self._refresh(scope))
class KeyError_(Exception):
    pass
for key, value in mapping.items():
    print(key, value)
apiKey: process.env.API_KEY,
const secretName = "prod/db/credentials";
let tokenizer = new Tokenizer({ vocabSize: 131072 });
resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#679591c564c3bffaae8454cf0b3df370c3d6911c"
integrity sha512-v2kDEe57lecTulaDIuNTPy3Ry4gLGJ6Z1O3vE1krgXZNrsQ+LFTGHVxVjcXPs17Lhb==
url = "https://example.com/path?query=1"
ssh = "git@github.com:org/repo.git"
version = "sha256:" + hashlib.sha256(data).hexdigest()
skip-navigation-link-container = true
color_key = "#ffcc00"
passwd_file = "/etc/passwd"
'''


def test_seeded_secrets_never_leak() -> None:
    red = Redactor()
    out, found = red.redact(SECRET_CORPUS)
    for name, secret in SECRETS.items():
        assert secret not in out, name
    for line in PEM_BODY.splitlines():
        assert line not in out
    assert "PRIVATE KEY" not in out.replace("<redacted:private-key>", "")
    kinds = {r.kind for r in found}
    assert {"openai-api-key", "aws-access-key-id", "aws-secret-access-key", "private-key"} <= kinds
    assert {"github-token", "jwt", "password-in-url", "stripe-key", "slack-token"} <= kinds
    # code around the secrets survives, line count is preserved
    assert "OPENAI_API_KEY = " in out and "import os" in out
    assert out.count("\n") == SECRET_CORPUS.count("\n")
    assert all(r.line >= 1 for r in found)


def test_every_secret_redacted_on_its_own_line() -> None:
    red = Redactor()
    for line in SECRET_CORPUS.splitlines():
        out, _ = red.redact(line)
        for name, secret in SECRETS.items():
            assert secret not in out, (name, line)


def test_no_false_positives_on_ordinary_code() -> None:
    out, found = Redactor().redact(ORDINARY_CODE)
    assert found == [], found
    assert out == ORDINARY_CODE


def test_no_false_positives_on_real_source() -> None:
    import json
    import typing

    for module in (typing, json.decoder):
        text = Path(module.__file__ or "").read_text()
        _, found = Redactor().redact(text)
        assert found == [], (module.__name__, found)


def test_window_starting_inside_key_block() -> None:
    text = PEM_BODY + "\n-----END PRIVATE KEY-----\nx = 1\n"
    out, found = Redactor().redact(text)
    assert out.startswith("<redacted:private-key>")
    assert "x = 1" in out and found[0].kind == "private-key"


def test_line_numbers_reported() -> None:
    text = "a = 1\nb = 2\nTOKEN = '" + SECRETS["github"] + "'\n"
    _, found = Redactor().redact(text, first_line=10)
    assert [(r.kind, r.line) for r in found] == [("github-token", 12)]


class _CountingPattern:
    """A compiled pattern that counts how often the redactor runs it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.scans = 0
        """Whole-text scans (`finditer`/`search`/`findall`/`sub`)."""
        self.anchored: list[int] = []
        """Start positions of anchored `match` calls."""

    def finditer(self, text: str, *args: Any) -> Any:
        self.scans += 1
        return self.inner.finditer(text, *args)

    def search(self, text: str, *args: Any) -> Any:
        self.scans += 1
        return self.inner.search(text, *args)

    def findall(self, text: str, *args: Any) -> Any:
        self.scans += 1
        return self.inner.findall(text, *args)

    def sub(self, *args: Any) -> Any:
        self.scans += 1
        return self.inner.sub(*args)

    def match(self, text: str, pos: int = 0, *args: Any) -> Any:
        self.anchored.append(pos)
        return self.inner.match(text, pos, *args)


def _starts_fixed(items: list[tuple[Any, Any]]) -> bool:
    """Whether a parsed pattern begins with a literal, a character set or `\\A` (in every
    branch), so `re` skips ahead to candidate starts instead of trying every position."""
    op, arg = items[0]
    if op in (re_parser.LITERAL, re_parser.IN, re_parser.AT):
        return op != re_parser.AT or arg == re_parser.AT_BEGINNING_STRING
    if op is re_parser.BRANCH:
        return all(_starts_fixed(list(branch.data)) for branch in arg[1])
    if op is re_parser.SUBPATTERN:
        return _starts_fixed(list(arg[-1].data))
    return False


def test_known_formats_start_with_a_fixed_character() -> None:
    # The design rule stated in redaction.py: patterns start with a literal so `re` can skip
    # ahead quickly (a pattern starting with a repeat is tried at every position).
    for kind, pattern, _group, _triggers in redaction._KNOWN:
        assert _starts_fixed(list(re_parser.parse(pattern).data)), kind
    assert _starts_fixed(list(re_parser.parse(redaction._ASSIGN_RE.pattern).data))


def test_redaction_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redaction runs on every keystroke over untrusted text, so its cost must not depend on
    luck: once warm it compiles nothing, runs each known-format pattern at most once and only
    when one of its trigger substrings occurs, and tries the generic assignment pattern only
    anchored at keyword hits, at most once per hit (counted, not timed)."""
    red = Redactor()
    text = Path(__import__("typing").__file__ or "").read_text()[:16000] + SECRET_CORPUS
    _, warm = red.redact(text)
    assert warm  # the corpus's secrets are found: the counted calls do real work

    known = red._known
    counting = [_CountingPattern(regex) for _kind, regex, _group, _trig in known]
    monkeypatch.setattr(
        red,
        "_compiled",
        [(k, c, g, t) for (k, _r, g, t), c in zip(known, counting, strict=True)],
    )
    assign = _CountingPattern(redaction._ASSIGN_RE)
    bearer = _CountingPattern(redaction._BEARER_RE)
    monkeypatch.setattr(redaction, "_ASSIGN_RE", assign)
    monkeypatch.setattr(redaction, "_BEARER_RE", bearer)
    compiles: list[str] = []
    real_compile = re.compile

    def counting_compile(pattern: Any, flags: int = 0) -> Any:
        compiles.append(str(pattern))
        return real_compile(pattern, flags)

    monkeypatch.setattr(re, "compile", counting_compile)

    calls = 10
    for _ in range(calls):
        _, found = red.redact(text)
        assert found == warm
    assert compiles == []
    for (kind, _regex, _group, triggers), c in zip(known, counting, strict=True):
        triggered = not triggers or any(t in text for t in triggers)
        assert c.scans == (calls if triggered else 0), kind
        assert c.anchored == [], kind
    assert bearer.scans <= calls and bearer.anchored == []
    low = text.lower()
    hits = sorted(
        i
        for keyword in ("secret", "token", "passw", "pwd", "key", "credential", "bearer")
        for i in range(len(low))
        if low.startswith(keyword, i)
    )
    assert assign.scans == 0
    tried = assign.anchored[: len(assign.anchored) // calls]
    assert assign.anchored == tried * calls
    assert set(tried) <= set(hits) and len(tried) == len(set(tried))


def test_entropy() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy(SECRETS["openai"]) > 4.5


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".env.production",
        "prod.env",
        "server.pem",
        "tls.key",
        "id_rsa",
        "id_ed25519.pub",
        ".npmrc",
        ".pypirc",
        ".netrc",
        ".git-credentials",
        "cert.p12",
        "cert.pfx",
        "home/u/.aws/credentials",
        "home/u/.kube/config",
        "home/u/.config/gcloud/application_default_credentials.json",
        "deploy/client_secret_123.apps.googleusercontent.com.json",
    ],
)
def test_secret_files(name: str, tmp_path: Path) -> None:
    assert secret_file_reason(tmp_path / name)
    assert is_blocked(tmp_path / name, [tmp_path])


@pytest.mark.parametrize("name", ["main.py", "env.py", "keys.py", "config/settings.py", "key.ts"])
def test_ordinary_files_not_secret(name: str, tmp_path: Path) -> None:
    assert secret_file_reason(tmp_path / name) is None


def test_devstralignore_root_and_subfolders(tmp_path: Path) -> None:
    (tmp_path / ".devstralignore").write_text("private/\n*.secret.py\n")
    sub = tmp_path / "pkg"
    (sub / "inner").mkdir(parents=True)
    (sub / ".devstralignore").write_text("generated_*.py\n!generated_ok.py\n/inner/hidden.py\n")
    guard = PrivacyGuard([tmp_path])
    assert guard.blocked_reason(tmp_path / "private" / "a.py") == "ignored by .devstralignore"
    assert guard.blocked_reason(tmp_path / "x" / "db.secret.py")
    assert guard.blocked_reason(sub / "generated_models.py")
    assert guard.blocked_reason(sub / "generated_ok.py") is None
    assert guard.blocked_reason(sub / "inner" / "hidden.py")
    assert guard.blocked_reason(tmp_path / "inner" / "hidden.py") is None  # anchored to pkg/
    assert guard.blocked_reason(tmp_path / "generated_x.py") is None  # only under pkg/
    assert guard.blocked_reason(tmp_path / "main.py") is None
    assert guard.blocked_reason(tmp_path / ".env.local")


def test_gitignore_excludes_context_only(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / ".gitignore").write_text("local_*.py\n")
    guard = PrivacyGuard([tmp_path])
    assert guard.blocked_reason(tmp_path / "build" / "gen.py") is None
    assert guard.excluded_reason(tmp_path / "build" / "gen.py") == "ignored by .gitignore"
    assert guard.excluded_reason(tmp_path / "src" / "local_settings.py")
    assert guard.excluded_reason(tmp_path / "local_settings.py") is None
    assert guard.excluded_reason(tmp_path / "src" / "app.py") is None
    # changes to ignore files are picked up after invalidate()
    (tmp_path / ".gitignore").write_text("")
    guard.invalidate(tmp_path / ".gitignore")
    assert guard.excluded_reason(tmp_path / "build" / "gen.py") is None


def test_dir_excluded_prunes_ignored_and_vcs_folders(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / ".devstralignore").write_text("private/\n")
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / ".gitignore").write_text("gen/\n")
    guard = PrivacyGuard([tmp_path, inner])
    assert guard.dir_excluded(tmp_path / "build")
    assert guard.dir_excluded(tmp_path / "private")
    assert guard.dir_excluded(tmp_path / ".git")
    assert guard.dir_excluded(inner / "gen")  # decided under the innermost root
    assert guard.dir_excluded(tmp_path / "src" / ".." / "build")  # lexically normalised
    assert not guard.dir_excluded(tmp_path / "src")
    assert not guard.dir_excluded(tmp_path / "gen")  # pkg's rule stays under pkg/
    assert not guard.dir_excluded(tmp_path)  # a root is never pruned
    assert not guard.dir_excluded(tmp_path.parent / "build")  # outside every root
