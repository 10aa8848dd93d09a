#!/bin/sh
# restart_and_wait.sh UNIT RESTART WANT TIMEOUT [CONTAINER...]
# Restart UNIT (containerd or docker) when RESTART is "true", then wait until its API answers with the
# version WANT (numeric, e.g. 1.7.24). Docker containers named after the arguments are stopped cleanly
# just before the restart (the API still answers; a stopped one stays as it is) and started again as soon as
# the daemon answers, in this one process so that no round trip of the caller adds to their downtime. Prints "START END" (epoch seconds:
# the restart began, the API answered).
set -u
unit=$1 restart=$2 want=$3 timeout=$4
shift 4
if [ $# -gt 0 ]; then
    docker stop "$@" >/dev/null || { echo "docker stop $* failed" >&2; exit 1; }
fi
probe() {
    case "$unit" in
        containerd) ctr version 2>/dev/null | sed -n '/^Server:/,$ s/^ *Version: *//p' ;;
        docker) docker version --format '{{.Server.Version}}' 2>/dev/null ;;
    esac
}
t0=$(date +%s.%N)
if [ "$restart" = true ]; then
    systemctl restart "$unit" || { echo "systemctl restart $unit failed: see journalctl -u $unit" >&2; exit 1; }
fi
deadline=$(( $(date +%s) + timeout ))
while :; do
    v=$(probe)
    v=${v%%[!0-9.]*}
    [ "$v" = "$want" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "$unit did not answer as $want within ${timeout} s (last answer: ${v:-none}): see journalctl -u $unit" >&2
        exit 1
    fi
    sleep 0.1
done
t1=$(date +%s.%N)
# dockerd may still be reconnecting to a restarted containerd: retry until the deadline
while [ $# -gt 0 ] && ! err=$(docker start "$@" 2>&1 >/dev/null); do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "docker start $* failed after the restart: $err" >&2
        exit 1
    fi
    sleep 0.2
done
echo "$t0 $t1"
