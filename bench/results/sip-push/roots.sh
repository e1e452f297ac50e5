#!/bin/bash
# roots.sh BIN PROFILE: where Herald's CPU goes in a CPU profile of BIN (from /debug/pprof/profile),
# two ways. By goroutine root (the function a sample's goroutine started in: the call controller is
# sipgo's INVITE goroutine, the MSRP plane gnet's loop, ...), and by cost class over the whole
# profile (system calls, allocation, the collector, select, stack growth, the scheduler). Classes
# overlap where a stack holds both (a system call made while allocating); shares are of all samples.
# Profile as in push.sh's header: (MIX=both=100 ./push.sh BIN TAG 1167 40s &); sleep 18;
# curl -s -o X.cpu "http://127.0.0.1:17090/debug/pprof/profile?seconds=15"
BIN=$1; PROF=$2
echo "by goroutine root (share of samples):"
go tool pprof -traces "$BIN" "$PROF" 2>/dev/null | awk '
  /^-----/ { if (n) t[last] += val; n = 0; next }
  /^ +[0-9.]+(ms|s) / { v = $1; if (v ~ /ms$/) { sub("ms", "", v); v /= 1000 } else sub("s", "", v); val = v; last = $2; n = 1; next }
  n && NF { last = $1 }
  END { if (n) t[last] += val; for (k in t) T += t[k]; for (k in t) printf "  %5.1f%%  %s\n", 100 * t[k] / T, k }' | sort -rn | head -10
echo "by cost class (share of all samples; overlapping):"
for c in 'syscall\.(Raw)?Syscall6?$|Syscall6$' 'runtime\.mallocgc$' 'runtime\.gcBgMarkWorker$|runtime\.bgsweep$' \
         'runtime\.selectgo$' 'runtime\.newstack$' 'runtime\.mcall$' 'runtime\.chansend$|runtime\.chanrecv$'; do
  pct=$(go tool pprof -top -focus "$c" "$BIN" "$PROF" 2>/dev/null | grep -m1 'Showing nodes' | grep -oE '[0-9.]+%')
  printf "  %6s  %s\n" "${pct:-0%}" "$c"
done
