#!/usr/bin/env bash
# Mutation testing of the critical modules (configured in pyproject.toml under [tool.mutmut] and
# [tool.minds371.mutation.*]; see docs/testing.md). Not part of the CI run: it takes minutes
# per module.
#
#   scripts/mutation.sh                 every configured module
#   scripts/mutation.sh logging bidding only these
#   MUTATION_CHILDREN=1 scripts/mutation.sh canonical   fewer parallel test processes
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python3
"$python" -c "import mutmut" 2>/dev/null || {
  echo "error: mutmut is not installed: pip install -e '.[dev]'" >&2
  exit 2
}
exec "$python" scripts/mutation.py "$@"
