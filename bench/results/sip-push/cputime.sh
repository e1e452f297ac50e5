#!/bin/bash
# cputime.sh BIN TAG MIX [RATE]: per call, the kernel's counts of Herald's system calls (each kind,
# and in all) and context
# switches (perf stat) and its user and system CPU time (/proc/PID/stat utime, stime), over 10 s
# from the 10th second of push.sh at RATE calls/s (default 600) with mix MIX (both=100: the push flow,
# plain=100: plain forwarding); calls from herald_sip_invites_total. Setup as in push.sh's header.
BIN=$1; TAG=$2; MIX=$3; RATE=${4:-600}
cd /tmp/perf || exit 1
(MIX=$MIX ./push.sh "$BIN" "$TAG" "$RATE" 25s > /dev/null 2>&1 &)
sleep 10
HP=$(pgrep -f "$BIN serve" | head -1)
calls() { curl -s http://127.0.0.1:17090/metrics | awk '/^herald_sip_invites_total/{print $2}'; }
a=$(calls); t0=$(awk '{print $14, $15}' /proc/"$HP"/stat)
ev=context-switches,task-clock
for s in sendto recvmmsg epoll_pwait futex nanosleep read writev accept4 close epoll_ctl setsockopt getsockopt ioctl shutdown sched_yield; do
	ev="$ev,syscalls:sys_enter_$s" # the UDP planes', the scheduler's, and each MSRP connection's
done
perf stat -x, -o "runs/$TAG.perf" -e "$ev" -p "$HP" -- sleep 10
t1=$(awk '{print $14, $15}' /proc/"$HP"/stat); b=$(calls)
sleep 18
n=$((b - a)); tck=$(getconf CLK_TCK)
echo "$TAG: $n calls; per call:"
awk -F, -v n="$n" '$1 ~ /^[0-9.]+$/ {v = $1 / n; if ($3 ~ /sys_enter/) all += v
	if ($3 == "task-clock") printf "  %-34s %8.3f ms\n", $3, v; else printf "  %-34s %8.2f\n", $3, v}
	END {printf "  %-34s %8.2f\n", "system calls in all", all}' "runs/$TAG.perf"
read u0 s0 <<< "$t0"; read u1 s1 <<< "$t1"
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v t="$tck" 'BEGIN {printf "  user %.3f ms, system %.3f ms\n", u * 1000 / t / n, s * 1000 / t / n}'
