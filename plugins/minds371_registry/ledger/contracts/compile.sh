#!/usr/bin/env bash
# Recompile Minds371Registry.sol with solc-js 0.8.30 (optimizer on) and refresh the committed ABI
# and bytecode beside it. Needs node and network access to npm; run it after editing the source.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error solc@0.8.30 >/dev/null
cp "$here/Minds371Registry.sol" .
npx solcjs --bin --abi --optimize --optimize-runs 200 -o out Minds371Registry.sol
python3 -m json.tool out/Minds371Registry_sol_Minds371Registry.abi > "$here/Minds371Registry.abi.json"
tr -d '\n' < out/Minds371Registry_sol_Minds371Registry.bin > "$here/Minds371Registry.bin"
echo "compiled: $here/Minds371Registry.abi.json, $here/Minds371Registry.bin"
