# Sourced by scripts/keisei and scripts/test: create or reuse .venv and install keisei into it.
# Reinstalls when the build inputs (pyproject.toml, setup.py, the C++ sources) changed since
# the last install, or when the compiled environment (keisei/game/_games*.so) is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KEISEI_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "keisei: creating virtual environment in $VENV" >&2
    "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.keisei-installed"
WANT="$(cd "$ROOT" && cat pyproject.toml setup.py csrc/* third_party/cshogi/src/* | sha256sum | cut -d' ' -f1)"
BUILT="$(ls "$ROOT"/keisei/game/_games*.so 2>/dev/null || true)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ] || [ -z "$BUILT" ]; then
    echo "keisei: installing dependencies (first run takes a few minutes)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
        if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
            "$VENV/bin/python" -m pip install --quiet torch >&2
        else
            # The CPU wheel; a plain "torch" would pull a multi-GB CUDA build.
            "$VENV/bin/python" -m pip install --quiet "torch==2.13.0" >&2
        fi
    fi
    # Builds keisei.game._games (C++, about a minute): needs g++ and the Python headers.
    NEED=""
    command -v g++ >/dev/null 2>&1 || NEED="g++"
    "$VENV/bin/python" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || NEED="$NEED python3-dev"
    if [ -n "$NEED" ]; then
        if command -v apt-get >/dev/null 2>&1; then
            echo "keisei: installing $NEED (Debian packages) to build the environment" >&2
            SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
            # shellcheck disable=SC2086
            $SUDO apt-get update -qq >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $NEED >&2
        else
            echo "keisei: $NEED needed to build keisei's C++ environment; install it first" >&2
            exit 1
        fi
    fi
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]" >&2
    echo "$WANT" > "$STAMP"
fi
