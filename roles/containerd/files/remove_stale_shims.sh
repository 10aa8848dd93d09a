#!/bin/sh
# remove_stale_shims.sh TASK_DIR
# After a containerd downgrade: end the shims of Docker's containers (namespace moby) whose binary was
# replaced on disk (they belong to the newer containerd, which the older one cannot talk to), and remove
# their task directories, which would otherwise make the next start fail with "file exists".
# Prints the IDs of the containers whose shim was removed.
set -u
task_dir=$1
for proc in /proc/[0-9]*; do
    exe=$(readlink "$proc/exe" 2>/dev/null) || continue
    case "$exe" in */containerd-shim-runc-v2" (deleted)") ;; *) continue ;; esac
    cmd=$(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null) || continue
    case "$cmd" in *"-namespace moby "*) ;; *) continue ;; esac
    id=$(printf '%s\n' "$cmd" | sed -n 's/.* -id \([0-9a-f]\{64\}\) .*/\1/p')
    [ -n "$id" ] || continue
    kill -9 "${proc#/proc/}" 2>/dev/null || true
    dir="${task_dir:?}/moby/$id"
    # the container's root file system may still be mounted there: never delete through a mount
    umount "$dir/rootfs" 2>/dev/null || true
    if grep -q " $dir/" /proc/self/mounts; then
        echo "kept $dir: something is still mounted under it" >&2
    else
        rm -rf "$dir"
    fi
    echo "$id"
done
