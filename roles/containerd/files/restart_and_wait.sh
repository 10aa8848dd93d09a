#!/bin/sh
# restart_and_wait.sh UNIT RESTART WANT TIMEOUT [CONTAINER...]
# Restart UNIT (containerd or docker) when RESTART is "true", then wait until its API answers with the
# version WANT (numeric, e.g. 1.7.24). Docker containers named after the arguments are stopped cleanly
# just before the restart (the API still answers; a stopped one stays as it is) and started again as soon as
# the daemon answers, in this one process so that no round trip of the caller adds to their downtime.
# Prints "START END" (epoch seconds: the restart began, the API answered), then "down NAME SECONDS" for each
# container started again (from its own stop and start times). A daemon that does not come back fails with
# the reason it logged (it refuses to start with a setting, say).
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
# The daemon's own reason from its journal: a daemon that refuses to start says why in a plain line
# ("invalid ...", "failed to start daemon: ..."); journald may need a moment to have it.
reason() {
    i=0
    while :; do
        lines=$(journalctl -u "$unit" -n 80 --no-pager -o cat 2>/dev/null | grep -v "^$unit" | grep -v '^$')
        why=$(printf '%s\n' "$lines" | grep -iE 'failed to start daemon|invalid|refus|ERROR:' | tail -n 3)
        [ -n "$why" ] || [ $i -ge 20 ] && break
        i=$((i + 1))
        sleep 0.1
    done
    [ -n "$why" ] || why=$(printf '%s\n' "$lines" | grep -iE 'level=(error|fatal)' | tail -n 3)
    [ -n "$why" ] || why=$(printf '%s\n' "$lines" | tail -n 3)
    printf '%s' "$why" | tr '\n' '|' | sed 's/|/ | /g'
}
fail() {
    echo "$1: $(reason) (journalctl -u $unit)" >&2
    exit 1
}
t0=$(date +%s.%N)
if [ "$restart" = true ]; then
    systemctl restart "$unit" >/dev/null 2>&1 || fail "$unit $want failed to start"
fi
deadline=$(( $(date +%s) + timeout ))
while :; do
    v=$(probe)
    v=${v%%[!0-9.]*}
    [ "$v" = "$want" ] && break
    if systemctl is-failed --quiet "$unit"; then
        fail "$unit $want failed to start"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        fail "$unit did not answer as $want within ${timeout} s (last answer: ${v:-none})"
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
[ $# -gt 0 ] || exit 0
docker inspect --format '{{.Name}} {{.State.FinishedAt}} {{.State.StartedAt}}' "$@" |
while read -r name finished started; do
    f=$(date -d "$finished" +%s.%N) && s=$(date -d "$started" +%s.%N) || continue
    echo "down ${name#/} $(echo "$s $f" | awk '{ printf "%.2f", $1 - $2 }')"
done
