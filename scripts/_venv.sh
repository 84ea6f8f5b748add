# Sourced by scripts/keisei and scripts/test: create or reuse .venv and install keisei into it.
# Reinstalls when the build inputs (pyproject.toml, setup.py, the C++ sources) changed since
# the last install, or when the compiled environment (keisei/game/_games*.so) is missing.
# PYTHON picks the interpreter (default python3), KEISEI_VENV the directory (default .venv),
# CXX the C++ compiler (default: the one Python was built with).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KEISEI_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    if ! command -v "$PY" >/dev/null 2>&1; then
        echo "keisei: Python interpreter '$PY' not found (Python 3.11 or newer is needed; set PYTHON)" >&2
        exit 1
    fi
    echo "keisei: creating virtual environment in $VENV" >&2
    "$PY" -m venv "$VENV" || {
        echo "keisei: '$PY -m venv' failed (Debian/Ubuntu: apt install python3-venv)" >&2
        exit 1
    }
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
        # The CPU build from PyTorch's own index (torch alone; its dependencies come from
        # the usual index). PyPI's Linux torch is the CUDA build, about 3 GB with its NVIDIA
        # libraries: it runs on a CPU too, so take it when the CPU build is out of reach.
        elif "$VENV/bin/python" -m pip install --quiet --no-deps "torch==2.13.0+cpu" \
            --index-url https://download.pytorch.org/whl/cpu >&2; then
            "$VENV/bin/python" -m pip install --quiet "torch==2.13.0+cpu" >&2
        else
            echo "keisei: no CPU build of torch 2.13.0 for this Python here; installing PyPI's" \
                "torch 2.13.0 (on Linux the CUDA build, a few GB)" >&2
            "$VENV/bin/python" -m pip install --quiet "torch==2.13.0" >&2
        fi
    fi
    # Builds keisei.game._games (C++, a few minutes): needs a C++ compiler and Python.h.
    # The compiler is $CXX, else the one Python was built with (sysconfig's CXX).
    DEFAULT_CXX="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("CXX") or "c++")')"
    COMPILER="${CXX:-$DEFAULT_CXX}"
    COMPILER="${COMPILER%% *}"
    HEADER="$("$VENV/bin/python" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["include"], "Python.h"))')"
    PYVER="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ -n "${CXX:-}" ] && ! command -v "$COMPILER" >/dev/null 2>&1; then
        echo "keisei: the C++ compiler named by CXX ('$COMPILER') was not found; install it," \
            "or unset CXX to use '$DEFAULT_CXX'" >&2
        exit 1
    fi
    NEED=""
    MISSING=""
    if ! command -v "$COMPILER" >/dev/null 2>&1; then
        NEED="g++"; MISSING="the C++ compiler '$COMPILER'"
    fi
    if [ ! -f "$HEADER" ]; then
        NEED="$NEED python$PYVER-dev"; MISSING="${MISSING:+$MISSING and }the Python headers ($HEADER)"
    fi
    if [ -n "$NEED" ]; then
        if command -v apt-get >/dev/null 2>&1; then
            echo "keisei: $MISSING not found; installing$( printf ' %s' $NEED ) (Debian packages)" >&2
            SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
            # shellcheck disable=SC2086
            { $SUDO apt-get update -qq >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $NEED >&2; } || {
                echo "keisei: could not install$( printf ' %s' $NEED ); install them and rerun" >&2
                exit 1
            }
        else
            echo "keisei: $MISSING not found, needed to build keisei's C++ environment" \
                "(Debian/Ubuntu packages:$( printf ' %s' $NEED ); or set CXX to your C++ compiler)" >&2
            exit 1
        fi
    fi
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]" >&2 || {
        echo "keisei: installing keisei failed (pip's output above says why)" >&2
        exit 1
    }
    echo "$WANT" > "$STAMP"
fi
