"""The VS Code extension in editors/vscode type-checks, bundles and packages to a .vsix."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.editor

EXT = REPO / "editors" / "vscode"


def npm_run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", "run", "--silent", script], cwd=EXT, capture_output=True, text=True, timeout=180
    )


def test_extension_typechecks_bundles_and_packages(tmp_path: Path) -> None:
    if not shutil.which("npm"):
        pytest.skip("npm not installed")
    if not (EXT / "node_modules" / "vscode-languageclient").is_dir():
        pytest.skip("npm ci not run in editors/vscode (run .ci/install-editors.sh)")
    for script in ("typecheck", "bundle", "package"):
        proc = npm_run(script)
        assert proc.returncode == 0, f"npm run {script}:\n{proc.stdout}\n{proc.stderr}"
    vsix = EXT / "devstral-lsp.vsix"
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        manifest = z.read("extension/package.json").decode()
    assert {"extension/package.json", "extension/dist/extension.js"} <= names
    assert not any(n.startswith("extension/src/") or "node_modules" in n for n in names)
    # Settings that could send code or keys elsewhere can't be set by a workspace.
    props = json.loads(manifest)["contributes"]["configuration"]["properties"]
    for key in ("devstral.apiKey", "devstral.baseUrl", "devstral.provider"):
        assert props[key]["scope"] == "application", key
    for key in ("devstral.serverPath", "devstral.serverArgs"):
        assert props[key]["scope"] == "machine", key
