"""Speed of the SDL engine: parse + validate + manifest + version hash + group specs.

Usage: python benchmarks/bench_sdl.py [--count 1000] [--rounds 5] [--profile]
       [--js [DIR]]

Runs every valid SDL of the test fixtures (the Go reference cases, the upstream version vectors
and the chain-sdk golden inputs that parse) round-robin until ``--count`` documents, in one warm
process, ``--rounds`` times, and prints the time per SDL of each stage and in total (best round).
Target: <= 0.3 ms per SDL, the figure of the reference JavaScript implementation (chain-sdk).

``--js`` also times @akashnetwork/chain-sdk 1.0.0-alpha.25 (``SDL.fromString`` + sorted manifest
JSON + version + groups) on the same documents with node, side by side: from ``DIR`` when it
holds ``node_modules/@akashnetwork/chain-sdk``, else installed with npm into a temporary
directory (needs the npm registry). Documents chain-sdk refuses count in its time too.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from minds371.errors import ValidationError
from minds371_akash.sdl import build_manifest, parse_sdl
from minds371_akash.sdl._yaml import load_yaml

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sdl"


def fixture_mix() -> list[str]:
    texts = [p.read_text() for p in sorted((FIXTURES / "go" / "input").glob("v2.*/*/input.yaml"))]
    vectors = json.loads((FIXTURES / "manifest_version_vectors.json").read_text())
    texts += [v["sdl_yaml"] for v in vectors["vectors"]]
    for path in sorted((FIXTURES / "chain-sdk-golden").glob("*/*.sdl.yaml")):
        text = path.read_text()
        try:
            parse_sdl(text)
        except ValidationError:
            continue
        texts.append(text)
    return texts


def run(texts: list[str]) -> dict[str, float]:
    load = parse = build = 0.0
    for text in texts:
        t0 = time.perf_counter()
        load_yaml(text)
        t1 = time.perf_counter()
        sdl = parse_sdl(text)
        t2 = time.perf_counter()
        manifest = build_manifest(sdl)
        _ = (manifest.version, manifest.group_specs)
        t3 = time.perf_counter()
        load += t1 - t0
        parse += t2 - t1
        build += t3 - t2
    n = len(texts)
    return {
        "yaml_load_ms": load / n * 1e3,
        "parse_validate_ms": parse / n * 1e3,
        "manifest_hash_groups_ms": build / n * 1e3,
        "end_to_end_ms": (parse + build) / n * 1e3,
    }


def run_cpu(texts: list[str]) -> float:
    """Parse + build every text; return this thread's CPU time per SDL in ms.

    Unlike wall time, CPU time leaves out the time other processes hold the CPU, so it varies
    less on a busy machine (it still feels their effect on shared caches).
    """
    start = time.thread_time()
    for text in texts:
        manifest = build_manifest(parse_sdl(text))
        _ = (manifest.version, manifest.group_specs)
    return (time.thread_time() - start) / len(texts) * 1e3


_JS = """
import { SDL } from "@akashnetwork/chain-sdk";
import { readFileSync } from "node:fs";
const texts = JSON.parse(readFileSync(process.argv[2], "utf8"));
const rounds = Number(process.argv[3]);
async function run() {
  let ok = 0;
  const t0 = process.hrtime.bigint();
  for (const text of texts) {
    try {
      const sdl = SDL.fromString(text, "beta3");
      sdl.manifestSortedJSON();
      await sdl.manifestVersion();
      sdl.groups();
      ok++;
    } catch (e) {}
  }
  return [Number(process.hrtime.bigint() - t0) / 1e6 / texts.length, ok];
}
await run();
const results = [];
for (let i = 0; i < rounds; i++) results.push(await run());
results.sort((a, b) => a[0] - b[0]);
console.log(JSON.stringify({ ms: results[0][0], ok: results[0][1] }));
"""


def run_js(texts: list[str], rounds: int, directory: str | None) -> None:
    node = shutil.which("node")
    if node is None:
        print("  chain-sdk: skipped (node is not installed)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(directory) if directory else Path(tmp)
        if not (root / "node_modules" / "@akashnetwork" / "chain-sdk").exists():
            npm = shutil.which("npm")
            if npm is None:
                print("  chain-sdk: skipped (npm is not installed)")
                return
            subprocess.run(
                [
                    npm,
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                    "--prefix",
                    str(root),
                    "@akashnetwork/chain-sdk@1.0.0-alpha.25",
                ],
                check=True,
                timeout=600,
            )
        script = root / "bench-minds371-sdl.mjs"
        data = Path(tmp) / "mix.json"
        script.write_text(_JS)
        data.write_text(json.dumps(texts))
        try:
            out = subprocess.run(
                [node, str(script), str(data), str(rounds)],
                check=True,
                capture_output=True,
                text=True,
                timeout=600,
                cwd=root,
            ).stdout
        finally:
            script.unlink()
    result = json.loads(out)
    print(
        f"  chain-sdk (node, same documents): {result['ms']:.3f} ms/SDL best "
        f"({result['ok']} of {len(texts)} accepted)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round")
    parser.add_argument(
        "--js",
        nargs="?",
        const="",
        metavar="DIR",
        help="also time chain-sdk with node (DIR: where it is installed)",
    )
    args = parser.parse_args()

    mix = fixture_mix()
    texts = [mix[i % len(mix)] for i in range(args.count)]
    run(texts[:100])  # warm up imports, caches and the interpreter
    if args.profile:
        import cProfile
        import pstats

        with cProfile.Profile() as profile:
            run(texts)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
        return
    results = [run(texts) for _ in range(args.rounds)]
    cpu_ms = min(run_cpu(texts) for _ in range(args.rounds))
    best = min(results, key=lambda r: r["end_to_end_ms"])
    median = statistics.median(r["end_to_end_ms"] for r in results)
    size = sum(len(t) for t in texts) / len(texts)
    best_ms = best["end_to_end_ms"]
    print(f"{len(texts)} SDLs ({len(mix)} distinct, mean {size:.0f} bytes), {args.rounds} rounds")
    print(f"  parse+validate+manifest+hash+group specs: {best_ms:.3f} ms/SDL best")
    print(f"    median round:                   {median:.3f} ms")
    print(f"    thread CPU time, best round:    {cpu_ms:.3f} ms")
    print(f"    of which YAML parse alone:      {best['yaml_load_ms']:.3f} ms")
    print(f"    parse + schema + rules:         {best['parse_validate_ms']:.3f} ms")
    print(f"    manifest + hash + group specs:  {best['manifest_hash_groups_ms']:.3f} ms")
    print("  target: <= 0.300 ms/SDL (chain-sdk, JavaScript)")
    if args.js is not None:
        run_js(texts, args.rounds, args.js or None)


if __name__ == "__main__":
    main()
