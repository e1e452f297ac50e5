#!/usr/bin/env bash
# targetab.sh OLD NEW ROUNDS: BenchmarkTarget (core/sipfast: what finding a request's destination
# costs the fast path) of two commits, alternated ROUNDS times, and the medians. OLD may predate the
# benchmark (session 19's engine: c3e5157): its version of it, target19_bench_test.go.txt, is copied
# in. Run from the repo's root on a quiet machine.
set -euo pipefail
old=${1:?OLD commit} new=${2:?NEW commit} rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" 2>/dev/null; git worktree remove --force "$tmp/new" 2>/dev/null; rm -rf "$tmp"' EXIT
for side in old new; do
  git worktree add -q "$tmp/$side" "${!side}"
  if ! grep -q 'func BenchmarkTarget' "$tmp/$side"/core/sipfast/*_test.go; then
    cp "$here/target19_bench_test.go.txt" "$tmp/$side/core/sipfast/zz_target_bench_test.go"
  fi
  (cd "$tmp/$side" && go test -c -o "$tmp/bt-$side" ./core/sipfast)
done
for i in $(seq "$rounds"); do
  for side in old new; do
    echo "round $i $side"
    "$tmp/bt-$side" -test.run XXX -test.bench BenchmarkTarget -test.benchmem | grep Benchmark
  done
done | tee "$tmp/out.txt"
python3 - "$tmp/out.txt" <<'PY'
import re, statistics, sys
d, cur = {}, None
for l in open(sys.argv[1]):
    m = re.match(r'round \d+ (\w+)', l)
    if m:
        cur = m.group(1)
        continue
    m = re.match(r'BenchmarkTarget/(\S+?)-\d+\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs', l)
    if m:
        d.setdefault((cur, m.group(1)), []).append((float(m.group(2)), m.group(4)))
for (side, case), v in sorted(d.items()):
    print(f"{side:3} {case:9} median {statistics.median(x[0] for x in v):6.2f} ns/op  {v[0][1]} allocs/op  ({len(v)} runs)")
PY
