# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# A host's engine state kept before the first change, and put back by a rollback: the installed .deb files, the
# running containers, the holds, and the daemons' configuration files (content, mode, owner; absent ones noted).
# The backup root is root's alone (0700) and every kept file has its original mode and owner from the moment it
# is written. Each run is a folder named by its start (YYYYmmddTHHMMSS); the newest N are kept.
# The rollback reinstalls the kept packages with no apt source at all, clears the shims a downgrade orphaned,
# puts the configuration back and restarts the daemons with the same restart-and-wait the upgrade uses.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import glob
import json
import os
import re
import shutil

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _shims as S
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import upstream_version

RUN_NAME = re.compile(r'^[0-9]{8}T[0-9]{6}$')
CONFIG_FILES = ('/etc/docker/daemon.json', '/etc/containerd/config.toml')
DROPIN_DIRS = ('/etc/systemd/system/docker.service.d', '/etc/systemd/system/containerd.service.d')
STATE_FILE = 'state.json'


# ---------------------------------------------------------------------------------------------------------------
# files written private from their creation

def private_dir(path):
    """A folder only root can enter (0700 root:root), made so from its creation; an existing one is closed."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chown(path, 0, 0)
    os.chmod(path, 0o700)


def write_as(path, content, mode, uid, gid):
    """Write ``content`` to ``path`` (replaced atomically) as a file that has ``mode`` and owner ``uid:gid``
    before its first byte is written: a file readable by root only is never readable by anyone else, not even
    for a moment."""
    tmp = path + '.fleetsafe-tmp'
    if os.path.lexists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as fh:
            fd = None
            fh.write(content)
    finally:
        if fd is not None:
            os.close(fd)
    os.replace(tmp, path)


def prune_runs(root, keep, current):
    """Remove the oldest run folders under ``root`` so that the newest ``keep`` remain, ``current`` always among
    them; returns the folders removed. Nothing else in ``root`` is touched."""
    runs = sorted(n for n in os.listdir(root) if RUN_NAME.match(n) and os.path.isdir(os.path.join(root, n)))
    cur = os.path.basename(current.rstrip('/'))
    older = [n for n in runs if n != cur]
    drop = older[:max(0, len(older) - (keep - 1))]
    for name in drop:
        shutil.rmtree(os.path.join(root, name))
    return [os.path.join(root, n) for n in drop]


def runs_to_prune(root, keep, current):
    """What prune_runs would remove (check mode)."""
    if not os.path.isdir(root):
        return []
    runs = sorted(n for n in os.listdir(root) if RUN_NAME.match(n) and os.path.isdir(os.path.join(root, n)))
    older = [n for n in runs if n != os.path.basename(current.rstrip('/'))]
    return [os.path.join(root, n) for n in older[:max(0, len(older) - (keep - 1))]]


# ---------------------------------------------------------------------------------------------------------------
# the daemons' configuration

def config_paths():
    """The daemons' configuration files that exist now: daemon.json, containerd's config.toml, the drop-ins."""
    found = [p for p in CONFIG_FILES if os.path.isfile(p) or os.path.islink(p)]
    for folder in DROPIN_DIRS:
        found += sorted(glob.glob(os.path.join(folder, '*.conf')))
    return found


def _keep_file(path, dest):
    st = os.stat(path)
    copy = os.path.join(dest, 'config', path.lstrip('/').replace('/', '__'))
    os.makedirs(os.path.dirname(copy), mode=0o700, exist_ok=True)
    with open(path, 'rb') as fh:
        write_as(copy, fh.read(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
    return {'copy': copy, 'mode': oct(st.st_mode & 0o7777), 'uid': st.st_uid, 'gid': st.st_gid}


def keep_config(dest):
    """Copy each configuration file (content, mode, owner) into ``dest``; absent files are recorded as absent,
    so a rollback removes what the upgrade created. A symbolic link is recorded as the link plus its target."""
    kept = {}
    present = config_paths()
    for path in list(CONFIG_FILES) + [p for p in present if p not in CONFIG_FILES]:
        if path not in present:
            kept[path] = {'exists': False}
        elif os.path.islink(path):
            target = os.path.realpath(path)
            kept[path] = dict({'exists': True, 'link': os.readlink(path), 'target': target},
                              **(_keep_file(target, dest) if os.path.isfile(target) else {}))
        else:
            kept[path] = dict({'exists': True}, **_keep_file(path, dest))
    return kept


def _put_back(path, was):
    """Write the kept copy to ``path`` with its mode and owner, unless it is there already; True when written."""
    with open(was['copy'], 'rb') as fh:
        content = fh.read()
    mode = int(was['mode'], 8)
    if os.path.isfile(path) and not os.path.islink(path):
        st = os.stat(path)
        with open(path, 'rb') as fh:
            same = fh.read() == content
        if same and (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, was['uid'], was['gid']):
            return False
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    write_as(path, content, mode, was['uid'], was['gid'])
    return True


def restore_config(kept):
    """Put every kept file back as it was; remove the kept-as-absent ones and the drop-ins that appeared since.
    Returns {'restored': [...], 'removed': [...]} naming only what differed."""
    restored, removed = [], []
    for path in config_paths():
        if path not in kept:
            os.unlink(path)
            removed.append(path)
    for path, was in sorted(kept.items()):
        if not was['exists']:
            if os.path.lexists(path):
                os.unlink(path)
                removed.append(path)
        elif 'link' in was:
            changed = False
            if not (os.path.islink(path) and os.readlink(path) == was['link']):
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(was['link'], path)
                changed = True
            if 'copy' in was:
                changed = _put_back(was['target'], was) or changed
            if changed:
                restored.append(path)
        elif _put_back(path, was):
            restored.append(path)
    return {'restored': restored, 'removed': sorted(removed)}


# ---------------------------------------------------------------------------------------------------------------
# the backup

def snapshot(names):
    """What runs now: the running containers, daemon.json, the engine's version, the holds, the packages."""
    daemon_json = None
    if os.path.exists('/etc/docker/daemon.json'):
        with open('/etc/docker/daemon.json') as fh:
            daemon_json = fh.read()
    docker = D.Daemon('docker.service')
    engine = docker.version()
    # an engine that answers its version but not its containers is an error, not a host without containers
    return {'running': [c for c in docker.containers(strict=True) if c['running']] if engine else [],
            'daemon_json': daemon_json, 'engine': engine, 'holds': A.holds(),
            'packages': A.installed_packages(names)}


def _keep_deb(pkg, version, debs_dir, state):
    """The .deb of an installed package, kept in ``debs_dir``: apt-get download, else apt's cache, else
    dpkg-repack. (files, how) or (None, None)."""
    res = R.run(['apt-get', *A.apt_opts(state), 'download', '%s=%s' % (pkg, version)], check=False,
                env=A.apt_env())
    if res.returncode == 0:
        got = glob.glob(os.path.join(debs_dir, '%s_*.deb' % pkg))
        if got:
            return got, 'apt-get download'
    plain = version.split(':', 1)[-1]
    got = glob.glob('/var/cache/apt/archives/%s_%s_*.deb' % (pkg, plain)) + glob.glob(
        '/var/cache/apt/archives/%s_%s_*.deb' % (pkg, version.replace(':', '%3a')))
    if got:
        return got, 'apt cache'
    if shutil.which('dpkg-repack') and R.run(['dpkg-repack', pkg], check=False).returncode == 0:
        got = glob.glob(os.path.join(debs_dir, '%s_*.deb' % pkg))
        if got:
            return got, 'dpkg-repack'
    return None, None


def backup(root, run, names, state='', keep=2, snap=None):
    """Keep the host's engine state under ``root``/``run``; prune older runs to ``keep``. ``snap``: the state as
    snapshot() took it a moment before (the journal's intent), else taken here. Raises OpError when a package's
    .deb cannot be kept (nothing was changed on the host but the backup folder)."""
    dest = os.path.join(root, run)
    old_umask = os.umask(0o077)   # everything the backup writes is root's alone from its creation
    cwd = os.getcwd()
    try:
        private_dir(root)
        private_dir(dest)
        debs_dir = os.path.join(dest, 'debs')
        private_dir(debs_dir)
        os.chdir(debs_dir)        # apt-get download and dpkg-repack write into the current folder
        snap = snap or snapshot(names)
        debs, how, missing = [], {}, []
        for pkg, version in sorted(snap['packages'].items()):
            kept = glob.glob(os.path.join(debs_dir, '%s_*.deb' % pkg))
            if kept:
                debs += kept
                how[pkg] = 'kept'
                continue
            got, how[pkg] = _keep_deb(pkg, version, debs_dir, state)
            if not got:
                missing.append('%s=%s' % (pkg, version))
                del how[pkg]
                continue
            for f in got:
                target = os.path.join(debs_dir, os.path.basename(f))
                if os.path.abspath(f) != target:
                    shutil.copyfile(f, target)
                debs.append(target)
        snap['config_files'] = keep_config(dest)
        snap['debs'] = sorted(debs)
        snap['how'] = how
        with open(os.path.join(dest, STATE_FILE), 'w') as fh:
            json.dump(snap, fh, indent=1, sort_keys=True)
        if missing:
            raise R.OpError('no .deb could be kept for %s: neither the apt source, /var/cache/apt/archives nor '
                            'dpkg-repack has it; install dpkg-repack or add a source that serves it'
                            % ', '.join(missing))
        pruned = prune_runs(root, keep, dest)
    finally:
        os.umask(old_umask)
        os.chdir(cwd)
    return dict(snap, dir=dest, pruned=pruned)


# ---------------------------------------------------------------------------------------------------------------
# the rollback

def rollback(dest, managed, timeout):
    """The host as the backup in ``dest`` holds it: the engine and containerd stopped, the kept packages
    reinstalled with no apt source, orphaned shims cleared, the configuration put back, containerd then dockerd
    started (each waited for until it answers as the reinstalled version), the containers that ran before
    running, and the rootless daemons the upgrade restarted back on the reinstalled dockerd."""
    t0 = R.now()
    with open(os.path.join(dest, STATE_FILE)) as fh:
        state = json.load(fh)
    managed = set(managed or []) | set(state['packages'])
    report = {'changed': True, 'dir': dest}
    # 1. stop the engine and containerd (dockerd stops its containers)
    R.run(['systemctl', 'stop', 'docker.socket', 'docker'], check=False)
    R.run(['systemctl', 'stop', 'containerd'], check=False)
    # 2. the previous packages from the kept .deb files, with no apt source at all, after what an interrupted
    # dpkg left is finished (a run cut during apt) and a policy-rc.d a dead run left behind is gone
    report['policy_rc_removed'] = A.leftover_policy()
    report['dpkg_interrupted'] = A.dpkg_repair(timeout * 3)
    now_pkgs = A.installed_packages()
    remove = sorted(p for p in managed if p in now_pkgs and p not in state['packages'])
    reinstall = [d for d in state['debs'] if os.path.exists(d)]
    changed_pkgs = sorted(p for p, v in state['packages'].items() if now_pkgs.get(p) != v)
    if changed_pkgs or remove:
        R.run(['apt-mark', 'unhold'] + sorted(set(A.holds()) & (managed | set(now_pkgs))), check=False)
        argv = ['apt-get', '-o', 'Dir::Etc::SourceList=/dev/null', '-o', 'Dir::Etc::SourceParts=/dev/null',
                'install', '-y', '-q', '--no-install-recommends', '--allow-downgrades',
                '--allow-change-held-packages', '-o', 'Dpkg::Options::=--force-confold',
                *reinstall, *['%s-' % p for p in remove]]
        with A.NoDaemonRestarts():
            res = R.run(argv, check=False, env=A.apt_env())
        if res.returncode:
            raise R.OpError('rollback: apt-get could not reinstall the kept packages: %s' % (
                (res.stderr or res.stdout).strip()[-1500:]))
    report['holds'] = restore_holds(state.get('holds') or [], managed)
    report['packages_restored'] = changed_pkgs
    report['packages_removed'] = remove
    report['packages'] = A.installed_packages(managed)
    # 3. the shims a downgrade orphaned (the one rule of shims_clear), in every namespace
    installed_containerd = containerd_installed()
    cleared = S.clear(installed_containerd, namespaces=None)
    report['shims_killed'], report['task_dirs_removed'] = cleared['killed'], cleared['task_dirs_removed']
    # 4. the configuration as it was (a backup from before this was kept has no record: nothing to put back)
    report['config'] = restore_config(state['config_files']) if 'config_files' in state else None
    R.run(['systemctl', 'daemon-reload'])
    # 5. containerd then dockerd, each waited for with the upgrade's own restart-and-wait
    R.run(['systemctl', 'reset-failed', 'docker', 'containerd'], check=False)
    containerd = D.Daemon('containerd.service')
    containerd.restart(upstream_version(installed_containerd) or '', timeout)
    R.run(['systemctl', 'start', 'docker.socket'], check=False)
    docker = D.Daemon('docker.service')
    docker.restart(upstream_version(engine_installed()) or '', timeout)
    report['engine'] = docker.version()
    report['containerd'] = containerd.version()
    # 6. what ran before runs again
    report['containers'] = D.start_containers(docker, [c['name'] for c in state['running']], timeout)
    try:
        report['rootless'] = rollback_rootless(dest, timeout)
    except R.OpError as exc:
        report['rootless'], report['error'] = {}, 'rootless: %s' % exc
    report['seconds'] = round(R.now() - t0, 2)
    return report


def restore_holds(held, managed):
    """The holds among ``managed`` as ``held`` lists them (a step cut after lifting one leaves it lifted). A package
    a cut dpkg left half-installed or unpacked is held too (A.on_disk); one not on the host cannot be."""
    now_held = set(A.holds())
    present = dict((k, v) for k, v in A.dpkg_status(managed).items() if A.on_disk(v[1]))
    unhold = sorted((now_held & set(managed)) - set(held))
    hold = sorted(p for p in held if p in present and p not in now_held)
    if unhold:
        R.run(['apt-mark', 'unhold'] + unhold, check=False)
    if hold:
        R.run(['apt-mark', 'hold'] + hold, check=False)
    return sorted(set(A.holds()) & set(managed))


def _binary_version(argv):
    res = R.run(argv, check=False)
    m = re.search(r'version:?\s+v?([0-9][^\s,]*)', res.stdout or '', re.I) if res.returncode == 0 else None
    return m.group(1) if m else None


def containerd_installed():
    """The installed containerd binary's version ('1.7.24~ds1', '2.1.9+unknown')."""
    res = R.run(['containerd', '--version'], check=False)
    fields = (res.stdout or '').split()
    return fields[2] if res.returncode == 0 and len(fields) >= 3 else None


def engine_installed():
    return _binary_version(['dockerd', '--version'])


def rollback_rootless(dest, timeout):
    """Every rootless daemon a restart noted in ``dest`` (rootless-USER.json) that does not answer, or runs
    another dockerd than the installed one, restarted again, and its containers running again."""
    installed = upstream_version(engine_installed()) or ''
    report, errors = {}, []
    for note in sorted(glob.glob(os.path.join(dest, 'rootless-*.json'))):
        with open(note) as fh:
            state = json.load(fh)
        daemon = D.Daemon(state.get('unit') or 'docker.service', scope='rootless', user=state['user'],
                          uid=state['uid'], socket=state.get('socket'))
        try:
            running = daemon.version()
            restart = running is None or upstream_version(running) != installed
            one = {'restarted': restart}
            if restart:
                t, up = daemon.restart(installed, timeout)
                one['restart_seconds'] = round(up - t, 2)
            started = D.start_containers(daemon, [c['name'] for c in state['running']], timeout)
            one.update(version=daemon.version(), containers_started=started['started'])
            report[daemon.user] = one
        except R.OpError as exc:
            errors.append(str(exc))
    if errors:
        raise R.OpError('; '.join(errors))
    return report
