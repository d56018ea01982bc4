"""Privacy guard: blocked files, ignore files and redaction (zero leaks, no false positives)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

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


def test_redaction_is_fast() -> None:
    red = Redactor()
    text = (Path(__import__("typing").__file__ or "").read_text())[:16000]
    red.redact(text)
    started = time.perf_counter()
    for _ in range(10):
        red.redact(text)
    assert (time.perf_counter() - started) / 10 < 0.01


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
