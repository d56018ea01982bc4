"""Files whose whole purpose is to hold credentials, recognised by name.

A separate module because the list is the one rule that needs no workspace: it applies to any
path, inside a root or not (`~/.aws/credentials` opened directly), case-insensitively, and both
the path policy (`policy.PrivacyGuard`) and callers without a guard ask it. A file matched here
is never sent to the model, not even redacted, and never used as context.
"""

from __future__ import annotations

import threading
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from .ignore_files import build_spec

if TYPE_CHECKING:
    import pathspec

SECRET_FILE_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".my.cnf",
    ".git-credentials",
    ".htpasswd",
    ".vault-token",
    "**/.aws/credentials",
    "**/.aws/config",
    "**/.kube/config",
    "kubeconfig",
    "*.kubeconfig",
    "**/.docker/config.json",
    "application_default_credentials.json",
    "**/.config/gcloud/**",
    "credentials.db",
    "access_tokens.db",
    "client_secret*.json",
    "service-account*.json",
    "service_account*.json",
    "*-credentials.json",
    "credentials.json",
    "secrets.yml",
    "secrets.yaml",
    "secrets.json",
    "*.tfvars",
    "*.tfstate",
    "*.tfstate.backup",
    ".terraformrc",
    "terraform.rc",
    "*.gpg",
)
"""Files whose whole purpose is to hold credentials: never sent, never used as context."""


_secret_lock = threading.Lock()
_secret_spec: pathspec.GitIgnoreSpec | None = None


def secret_file_reason(path: Path | str) -> str | None:
    """`"secret file (<pattern>)"` when `path` looks like a credentials file, else None.

    Matches on the path's last components so it works for files outside every workspace
    root too (e.g. `~/.aws/credentials` opened directly).
    """
    global _secret_spec
    if _secret_spec is None:
        with _secret_lock:
            if _secret_spec is None:
                _secret_spec = build_spec(SECRET_FILE_PATTERNS)
    # Case-insensitive: `.ENV`, `ID_RSA` or `Server.PEM` are the same files on macOS/Windows
    # and hold the same secrets everywhere (every pattern above is lower-case).
    parts = PurePosixPath(Path(path).as_posix().lower()).parts
    tail = "/".join(parts[-4:]) if parts else ""
    result = _secret_spec.check_file(tail)
    if result.include and result.index is not None:
        return f"secret file ({SECRET_FILE_PATTERNS[result.index]})"
    return None
