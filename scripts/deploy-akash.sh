#!/usr/bin/env bash
# Deploy one container to Akash with minds371: writes a deployment request and runs
# `minds371 deploy` on it. Values are passed to the request as data, never as code.
#
# usage: scripts/deploy-akash.sh --image IMAGE [--name NAME] [--cpu CPU] [--memory SIZE]
#          [--storage SIZE] [--port PORT] [--env KEY=VALUE]... [--network sandbox|console|cli]
#          [--max-price UACT] [--json]
set -euo pipefail

name=""
image=""
cpu="0.5"
memory="512Mi"
storage="1Gi"
port="80"
network="sandbox"
max_price="100"
json=""
envs=()

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need() { [ $# -ge 2 ] || { echo "deploy-akash.sh: $1 needs a value" >&2; exit 2; }; }

while [ $# -gt 0 ]; do
  case "$1" in
    --name) need "$@"; name=$2; shift 2 ;;
    --image) need "$@"; image=$2; shift 2 ;;
    --cpu) need "$@"; cpu=$2; shift 2 ;;
    --memory) need "$@"; memory=$2; shift 2 ;;
    --storage) need "$@"; storage=$2; shift 2 ;;
    --port) need "$@"; port=$2; shift 2 ;;
    --env) need "$@"; envs+=("$2"); shift 2 ;;
    --network) need "$@"; network=$2; shift 2 ;;
    --max-price) need "$@"; max_price=$2; shift 2 ;;
    --json) json="--json"; shift ;;
    -h|--help) usage ;;
    *) echo "deploy-akash.sh: unknown option $1" >&2; usage ;;
  esac
done
[ -n "$image" ] || { echo "deploy-akash.sh: --image is required" >&2; exit 2; }
[ -n "$name" ] || name=$(printf '%s' "$image" | sed 's#.*/##; s#[:@].*##' | tr -c 'a-z0-9-' '-' | sed 's/^-*//; s/-*$//')

here=$(cd "$(dirname "$0")/.." && pwd)
minds371=${MINDS371:-minds371}
command -v "$minds371" >/dev/null 2>&1 || minds371="$here/.venv/bin/minds371"
python=${PYTHON:-python3}
[ -x "$here/.venv/bin/python" ] && python="$here/.venv/bin/python"

request=$(mktemp "${TMPDIR:-/tmp}/minds371-request.XXXXXX.json")
trap 'rm -f "$request"' EXIT

# The request is built by Python from argv, so no value is ever parsed as shell or YAML.
"$python" - "$request" "$name" "$image" "$cpu" "$memory" "$storage" "$port" "$network" \
  "$max_price" "${envs[@]+"${envs[@]}"}" <<'PY'
import json, sys

path, name, image, cpu, memory, storage, port, network, max_price, *pairs = sys.argv[1:]
env = {}
for pair in pairs:
    key, sep, value = pair.partition("=")
    if not sep:
        sys.exit(f"deploy-akash.sh: --env {pair!r} must be KEY=VALUE")
    env[key] = value
try:
    port_number = int(port)
except ValueError:
    sys.exit(f"deploy-akash.sh: --port {port!r} is not a number")
request = {
    "name": name,
    "network": network,
    "infra_spec": {
        "services": [{
            "name": name, "image": image, "cpu": cpu, "memory": memory, "storage": storage,
            "env": env, "ports": [{"port": port_number}],
        }],
        "max_price_uact": max_price,
    },
}
with open(path, "w", encoding="utf-8") as out:
    json.dump(request, out)
PY

status=0
"$minds371" deploy "$request" $json || status=$?
exit "$status"
