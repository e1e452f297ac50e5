#!/bin/bash
# pushcmp.sh RATE SOAK: push flow (both cards, pages fetched) at RATE for SOAK: base, new (gc 400), new gc 200, new gc 100
cd /tmp/perf
R=$1; S=$2
./push.sh /tmp/perf/herald-base push$R-base $R 10s $S
./push.sh /tmp/perf/herald-new push$R-new400 $R 10s $S
CFG=/tmp/perf/pcfg/herald-gc200.yaml ./push.sh /tmp/perf/herald-new push$R-new200 $R 10s $S
CFG=/tmp/perf/pcfg/herald-gc100.yaml ./push.sh /tmp/perf/herald-new push$R-new100 $R 10s $S
