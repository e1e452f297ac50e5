#!/bin/bash
# cpumon.sh OUT: every second, the CPU (jiffies/s, 100 = one CPU) of herald*, loadgen, and the box's
# user/system/softirq/idle, until killed.
OUT=$1; : > $OUT
prev=""
declare -A P
while true; do
  line="$(date +%s)"
  read -r _ u n s i w irq sirq st _ < /proc/stat
  line="$line box u=$u s=$s si=$sirq i=$i"
  for pid in $(pgrep -f 'herald-|loadgen run'); do
    read -r -a f < /proc/$pid/stat 2>/dev/null || continue
    line="$line ${f[1]}=$(( ${f[13]} + ${f[14]} ))"
  done
  echo "$line" >> $OUT
  sleep 1
done
