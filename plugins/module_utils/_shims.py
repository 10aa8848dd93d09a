# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The one rule for which containerd shims are orphaned, and clearing them. A shim outlives a containerd restart
# on purpose (its container keeps running), and a newer containerd talks to an older shim. After a downgrade,
# though, the shims the newer containerd started speak a protocol the older one cannot (containerd 2.x shims
# under 1.7: "unsupported shim version (3)"), and their task folders make every later start of the same
# container fail with "file exists". Such a shim is orphaned: its binary was replaced on disk, and the binary it
# runs is newer than the containerd now installed.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import shutil
import time

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    cmdline_option, parse_shim_version, upstream_version)

TASK_DIR = '/run/containerd/io.containerd.runtime.v2.task'
DELETED = ' (deleted)'


def _key(version):
    up = upstream_version(version)
    return tuple(int(x) for x in up.split('.')) if up else None


def is_orphaned(shim, containerd_version):
    """The rule: a shim is orphaned when its binary was replaced on disk and the version it runs is newer than
    the installed containerd ``containerd_version`` (a downgrade left it behind), or its version cannot be read
    at all (its binary is gone and answers nothing)."""
    if not shim['deleted']:
        return False
    mine, installed = _key(shim['version']), _key(containerd_version)
    if mine is None:
        return True
    return installed is not None and mine > installed


def list_shims(proc='/proc'):
    """Every containerd shim process: pid, binary, whether it was replaced on disk, namespace, id, version."""
    shims = []
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(os.path.join(proc, pid, 'exe'))
            with open(os.path.join(proc, pid, 'cmdline'), 'rb') as fh:
                argv = [a.decode('utf-8', 'replace') for a in fh.read().split(b'\0') if a]
        except OSError:
            continue
        binary = exe[:-len(DELETED)] if exe.endswith(DELETED) else exe
        if not os.path.basename(binary).startswith('containerd-shim'):
            continue
        # the running binary answers through /proc even when the file on disk is gone or replaced
        res = R.run([os.path.join(proc, pid, 'exe'), '-v'], check=False, timeout=10)
        shims.append({'pid': int(pid), 'binary': binary, 'deleted': exe.endswith(DELETED),
                      'namespace': cmdline_option(argv, '-namespace', '--namespace'),
                      'id': cmdline_option(argv, '-id', '--id'),
                      'version': parse_shim_version(res.stdout) if res.returncode == 0 else None})
    return sorted(shims, key=lambda s: s['pid'])


def clear(containerd_version, namespaces=('moby',), task_dir=TASK_DIR, check_mode=False, shims=None):
    """End the orphaned shims in ``namespaces`` (None = all) and remove their task folders (never through a
    mount: a folder with something still mounted under it is kept and named). Returns what was (or, in check
    mode, would be) cleared."""
    found = list_shims() if shims is None else shims
    orphaned = [s for s in found if is_orphaned(s, containerd_version)
                and (namespaces is None or s['namespace'] in namespaces)]
    out = {'orphaned': orphaned, 'killed': [], 'task_dirs_removed': [], 'task_dirs_kept': []}
    if check_mode:
        return out
    for shim in orphaned:
        try:
            os.kill(shim['pid'], 9)
            out['killed'].append(shim['pid'])
        except OSError:
            pass
    if out['killed']:
        time.sleep(0.3)
    for shim in orphaned:
        if not shim['namespace'] or not shim['id']:
            continue
        folder = os.path.join(task_dir, shim['namespace'], shim['id'])
        if not os.path.isdir(folder):
            continue
        R.run(['umount', os.path.join(folder, 'rootfs')], check=False)
        with open('/proc/self/mounts') as fh:
            mounted = any((' %s/' % folder) in line for line in fh)
        if mounted:
            out['task_dirs_kept'].append(folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            out['task_dirs_removed'].append(folder)
    return out
