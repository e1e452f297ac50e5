#!/bin/bash
# syscalls.sh BIN MIX RATE: Herald's system calls and context switches per call, counted by the
# kernel's tracepoints (perf stat) over 10 s in the middle of a 25 s push.sh run of MIX at RATE
# calls/s. Setup as in push.sh's header; needs perf (linux-perf) and root.
BIN=$1; MIX=$2; RATE=$3
cd /tmp/perf || exit 1
while pgrep -f "loadgen run" >/dev/null || pgrep -f " serve -c /tmp/perf" > /dev/null; do sleep 1; done
MIX=$MIX=100 ./push.sh "$BIN" "sc-$MIX" "$RATE" 25s >/dev/null 2>&1 &
PS=$!
sleep 12
P=$(pgrep -f "$BIN serve")
ev=context-switches
for s in futex nanosleep epoll_pwait sendto recvmmsg read write writev close accept4 epoll_ctl setsockopt getsockopt ioctl shutdown getrandom sched_yield; do
	ev="$ev,syscalls:sys_enter_$s"
done
perf stat -x, -e "$ev" -p "$P" -- sleep 10 2> "runs/sc-$MIX.perf"
wait $PS
awk -F, -v m="$MIX" -v c=$((RATE * 10)) '$1 ~ /^[0-9]+$/ {t += ($3 ~ /sys_enter/) ? $1 : 0; printf "%s %-34s %6.2f per call\n", m, $3, $1 / c} END {printf "%s %-34s %6.2f per call\n", m, "system calls in all", t / c}' "runs/sc-$MIX.perf"
