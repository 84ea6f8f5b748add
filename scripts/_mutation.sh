# Sourced by scripts/mutation and scripts/mutation-rerun: the environment and where a
# module's mutated copy lives.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KEISEI_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
BASE="${KEISEI_MUTATION_DIR:-${TMPDIR:-/tmp}/keisei-mutation}"

mutation_dir() {  # mutation_dir MODULE: e.g. $BASE/keisei_rl_ppo.py
    echo "$BASE/${1//\//_}"
}
