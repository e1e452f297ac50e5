#!/bin/bash
# perroot.sh BIN PROFILE SECONDS RATE: roots.sh's split by goroutine root in CPU-ms per call instead
# of shares (samples / SECONDS / RATE), with the part of each root spent in system calls and in
# malloc. What the floor of a call flow is computed from (bench/results/sip-push.md, "Session 15").
# Profile as in roots.sh's header (15 s at 1,167 calls/s: perroot.sh BIN X.cpu 15 1167).
BIN=$1; PROF=$2; SECS=$3; RATE=$4
go tool pprof -traces "$BIN" "$PROF" 2>/dev/null | awk -v secs="$SECS" -v rate="$RATE" '
  function flush() { if (n) { t[root] += val; if (sc) s[root] += val; if (ma) m[root] += val } n = 0; sc = 0; ma = 0 }
  /^-----/ { flush(); next }
  /^ +[0-9.]+(ms|s) / { v = $1; if (v ~ /ms$/) { sub("ms", "", v); v /= 1000 } else sub("s", "", v)
    val = v; n = 1; root = $2; if ($2 ~ /Syscall6$/) sc = 1; if ($2 ~ /mallocgc/) ma = 1; next }
  n && NF { root = $1; if ($1 ~ /Syscall6$/) sc = 1; if ($1 ~ /mallocgc/) ma = 1 }
  END { flush(); k = 1000 / secs / rate
    for (r in t) { T += t[r]; printf "%7.3f ms/call (%7.3f in system calls, %7.3f in malloc)  %s\n", t[r] * k, s[r] * k, m[r] * k, r }
    printf "%7.3f ms/call in all\n", T * k }' | sort -rn | head -12
