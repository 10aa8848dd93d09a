# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One step of the upgrade role, run on the host by ansible.builtin.script.

Usage: fleetsafe_upgrade_step.py ACTION BASE64_JSON

Every action prints one JSON object on stdout and exits 0 when it did what it was asked, 1 when it
failed (the object then carries ``error``). It only uses the standard library, apt, dpkg, systemctl
and the docker / ctr clients already on the host. Actions:

  resolve          the package versions the apt source offers, newest first (changes nothing)
  snapshot         running containers, their restart policies and the daemon's settings
  backup           the installed .deb files, the snapshot and the daemons' configuration files (content, mode,
                   owner; absent ones noted), kept on the host for a rollback
  start-containers the containers that ran before, running again (and healthy where they have a healthcheck)
  rollback         reinstall the backup's .deb files without any apt source, put the daemons' configuration
                   back as it was (daemon.json, containerd's config.toml, docker/containerd drop-ins), restart
                   in order
  restart-rootless a user's rootless dockerd (their systemd --user docker.service), its containers running again
  rollback-rootless  the rootless daemons restart-rootless touched, back on the reinstalled dockerd

The system daemons' steps (installs, restarts, containers stopped and started around a restart) are done by
the containerd and docker_engine roles; this script does what has no role of its own (a rootless daemon
answers on its user's socket, which those roles do not manage).
"""
from __future__ import annotations

import base64
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

POLICY_RC = '/usr/sbin/policy-rc.d'
TASK_DIR = '/run/containerd/io.containerd.runtime.v2.task'


class StepError(Exception):
    pass


def run(argv, check=True, env=None, timeout=600):
    res = subprocess.run(argv, capture_output=True, text=True,
                         env=env, timeout=timeout, check=False)
    if check and res.returncode != 0:
        raise StepError('{} failed (rc {}): {}'.format(
            ' '.join(argv), res.returncode, (res.stderr or res.stdout).strip()[-2000:]))
    return res


def now():
    return time.time()


def upstream(version):
    """Debian package version -> upstream release: 5:28.0.1-1~debian.12~bookworm -> 28.0.1."""
    m = re.match(r'^(?:[0-9]+:)?([0-9]+(?:\.[0-9]+)*)', version or '')
    return m.group(1) if m else ''


# ---------------------------------------------------------------------------------------------
# apt with a private state: the host's sources plus the role's, lists kept apart from the host's

def apt_opts(state):
    if not state:
        return []
    return ['-o', f'Dir::Etc::SourceList={state}/sources.list',
            '-o', f'Dir::Etc::SourceParts={state}/sources.list.d',
            '-o', f'Dir::State::Lists={state}/lists',
            '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=']


def apt_setup(source, state):
    for sub in ('sources.list.d', 'lists/partial'):
        os.makedirs(os.path.join(state, sub), exist_ok=True)
    for old in glob.glob(os.path.join(state, 'sources.list.d', '*')):
        os.unlink(old)
    if os.path.exists('/etc/apt/sources.list'):
        shutil.copyfile('/etc/apt/sources.list', os.path.join(state, 'sources.list'))
    else:
        open(os.path.join(state, 'sources.list'), 'w').close()
    for part in glob.glob('/etc/apt/sources.list.d/*.list') + glob.glob('/etc/apt/sources.list.d/*.sources'):
        shutil.copyfile(part, os.path.join(state, 'sources.list.d', os.path.basename(part)))
    if source:
        with open(os.path.join(state, 'sources.list.d', 'fleetsafe-upgrade.list'), 'w') as fh:
            fh.write(source.strip() + '\n')
    run(['apt-get', *apt_opts(state), '-qq', 'update'])


def madison(state, names):
    """package -> versions the source offers, newest first (apt's own order)."""
    out = run(['apt-cache', *apt_opts(state), 'madison', *names], check=False).stdout
    found = {n: [] for n in names}
    for line in out.splitlines():
        parts = [p.strip() for p in line.split('|')]
        if len(parts) >= 3 and parts[0] in found and parts[1] not in found[parts[0]]:
            found[parts[0]].append(parts[1])
    return found


def installed_packages(names=None):
    out = run(['dpkg-query', '-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n'], check=False).stdout
    pkgs = {}
    for line in out.splitlines():
        name, version, status = (line.split('\t') + ['', ''])[:3]
        if status[1:2] == 'i' and (names is None or name in names):
            pkgs[name] = version
    return pkgs


def holds():
    return sorted(run(['apt-mark', 'showhold'], check=False).stdout.split())


# ---------------------------------------------------------------------------------------------
# resolve: what the apt source offers. The filters judge it (findings apt_source_lacks_*) and upgrade_plan picks
# each step's package version from it (its preflight argument).

def act_resolve(a):
    names = a['names']
    extra = a.get('extra') or {}
    apt_setup(a.get('source', ''), a['state'])
    wanted = [names['containerd'], names['engine']] + ([names['cli']] if names.get('cli') else []) + list(extra)
    return {'offered': madison(a['state'], wanted)}


# ---------------------------------------------------------------------------------------------
# snapshot and backup

def docker_json(args, check=True):
    res = run(['docker', *args], check=check)
    return json.loads(res.stdout) if res.returncode == 0 and res.stdout.strip() else None


def containers(all_=False):
    ids = run(['docker', 'ps', '-q', '--no-trunc'] + (['-a'] if all_ else [])).stdout.split()
    if not ids:
        return []
    out = []
    for c in docker_json(['inspect', *ids]):
        out.append({
            'id': c['Id'], 'name': c['Name'].lstrip('/'), 'image': c['Config']['Image'],
            'running': c['State']['Running'], 'pid': c['State']['Pid'],
            'status': c['State']['Status'], 'exit_code': c['State']['ExitCode'],
            'started_at': c['State']['StartedAt'], 'finished_at': c['State']['FinishedAt'],
            'health': (c['State'].get('Health') or {}).get('Status'),
            'restart_policy': (c['HostConfig'].get('RestartPolicy') or {}).get('Name') or 'no',
            'volumes': [m.get('Name') for m in c.get('Mounts', []) if m.get('Type') == 'volume'],
        })
    return out


def act_snapshot(a):
    daemon_json = None
    if os.path.exists('/etc/docker/daemon.json'):
        with open('/etc/docker/daemon.json') as fh:
            daemon_json = fh.read()
    server = docker_json(['version', '--format', '{{json .Server}}'], check=False) or {}
    return {'running': [c for c in containers() if c['running']], 'daemon_json': daemon_json,
            'engine': server.get('Version'), 'holds': holds(), 'packages': installed_packages(a.get('names'))}


def act_backup(a):
    dest = a['dir']
    debs_dir = os.path.join(dest, 'debs')
    os.makedirs(debs_dir, exist_ok=True)
    snap = act_snapshot(a)
    debs, how, missing = [], {}, []
    for pkg, version in sorted(snap['packages'].items()):
        if glob.glob(os.path.join(debs_dir, f'{pkg}_*.deb')):
            debs += glob.glob(os.path.join(debs_dir, f'{pkg}_*.deb'))
            how[pkg] = 'kept'
            continue
        res = run(['apt-get', *apt_opts(a.get('state')), 'download', f'{pkg}={version}'], check=False)
        got = None
        if res.returncode == 0:
            got = glob.glob(f'{pkg}_*.deb')
            how[pkg] = 'apt-get download'
        if not got:
            plain = version.split(':', 1)[-1]
            got = glob.glob(f'/var/cache/apt/archives/{pkg}_{plain}_*.deb') + glob.glob(
                '/var/cache/apt/archives/{}_{}_*.deb'.format(pkg, version.replace(':', '%3a')))
            how[pkg] = 'apt cache'
        if not got and shutil.which('dpkg-repack'):
            if run(['dpkg-repack', pkg], check=False).returncode == 0:
                got = glob.glob(f'{pkg}_*.deb')
                how[pkg] = 'dpkg-repack'
        if not got:
            missing.append(f'{pkg}={version}')
            continue
        for f in got:
            target = os.path.join(debs_dir, os.path.basename(f))
            if os.path.abspath(f) != target:
                shutil.copyfile(f, target)
            debs.append(target)
    snap['config_files'] = keep_config(dest)
    snap['debs'] = sorted(debs)
    snap['how'] = how
    with open(os.path.join(dest, 'state.json'), 'w') as fh:
        json.dump(snap, fh, indent=1, sort_keys=True)
    if missing:
        raise StepError('no .deb could be kept for {}: neither the apt source, /var/cache/apt/archives nor '
                        'dpkg-repack has it; install dpkg-repack or add a source that serves it'.format(
                            ', '.join(missing)))
    return dict(snap, dir=dest)


# ---------------------------------------------------------------------------------------------
# the daemons' configuration: kept before the first change, put back exactly by a rollback

CONFIG_FILES = ('/etc/docker/daemon.json', '/etc/containerd/config.toml')
DROPIN_DIRS = ('/etc/systemd/system/docker.service.d', '/etc/systemd/system/containerd.service.d')


def config_paths():
    """The daemons' configuration files that exist now: daemon.json, containerd's config.toml, the drop-ins."""
    found = [p for p in CONFIG_FILES if os.path.isfile(p) or os.path.islink(p)]
    for folder in DROPIN_DIRS:
        found += sorted(glob.glob(os.path.join(folder, '*.conf')))
    return found


def _keep_file(path, dest):
    st = os.stat(path)
    copy = os.path.join(dest, 'config', path.lstrip('/').replace('/', '__'))
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    shutil.copyfile(path, copy)
    return {'copy': copy, 'mode': oct(st.st_mode & 0o7777), 'uid': st.st_uid, 'gid': st.st_gid}


def keep_config(dest):
    """Copy each configuration file (content, mode, owner recorded) into ``dest``; absent files are recorded
    as absent, so a rollback removes what the upgrade created. A symbolic link (a configuration tool's) is
    recorded as the link plus the file it points at."""
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
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.fleetsafe-restore'
    with open(tmp, 'wb') as fh:
        fh.write(content)
    os.chown(tmp, was['uid'], was['gid'])
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def restore_config(kept):
    """Put every kept file back as it was (content, mode, owner; a link and the file it points at); remove the
    kept-as-absent ones and the drop-ins that appeared since. Returns {'restored': [...], 'removed': [...]}
    naming only what differed."""
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


# ---------------------------------------------------------------------------------------------
# packages installed with daemons kept from restarting (the rollback restarts them in order)

class NoDaemonRestarts:
    """A policy-rc.d that refuses every action while packages unpack: the role restarts explicitly."""

    def __enter__(self):
        self.saved = None
        if os.path.exists(POLICY_RC):
            with open(POLICY_RC) as fh:
                self.saved = fh.read()
        with open(POLICY_RC, 'w') as fh:
            fh.write('#!/bin/sh\n# fleetsafe upgrade: restarts are explicit\nexit 101\n')
        os.chmod(POLICY_RC, 0o755)  # noqa: S103 - policy-rc.d must be executable by invoke-rc.d
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            os.unlink(POLICY_RC)
        else:
            with open(POLICY_RC, 'w') as fh:
                fh.write(self.saved)


def apt_env():
    return dict(os.environ, DEBIAN_FRONTEND='noninteractive')


# ---------------------------------------------------------------------------------------------
# readiness waits

def unit_log(unit, wait=2.0):
    """The daemon's own reason for failing, from the journal (systemd's lines about the unit left out). A daemon
    that refuses to start says why in a plain line ('invalid ...', 'failed to start daemon: ...'); the old
    daemon's shutdown errors come first, so those plain reasons win, and journald gets a moment to catch up."""
    strong = re.compile(r'(?i)failed to start daemon|invalid|refus|ERROR:')
    end = now() + wait
    while True:
        out = run(['journalctl', '-u', unit, '-n', '80', '--no-pager', '-o', 'cat'], check=False).stdout
        lines = [ln.strip() for ln in out.splitlines() if ln.strip() and not ln.startswith(unit)]
        reasons = [ln for ln in lines if strong.search(ln)]
        if reasons or now() >= end:
            break
        time.sleep(0.2)
    errors = reasons or [ln for ln in lines if re.search(r'(?i)level=(error|fatal)', ln)] or lines
    return ' | '.join(errors[-3:])


def wait_for(pred, timeout, what, tail_unit=None):
    end = now() + timeout
    while now() < end:
        if pred():
            return now()
        if tail_unit and run(['systemctl', 'is-failed', '--quiet', tail_unit], check=False).returncode == 0:
            raise StepError(f'{tail_unit} failed to start: {unit_log(tail_unit)}')
        time.sleep(0.1)
    raise StepError('timed out after {}s waiting for {}.{}'.format(
        timeout, what, (f' Last log lines of {tail_unit}: {unit_log(tail_unit)}') if tail_unit else ''))


def containerd_server_version():
    res = run(['ctr', 'version'], check=False)
    m = re.search(r'Server:\s*\n\s*Version:\s*(\S+)', res.stdout)
    return m.group(1) if res.returncode == 0 and m else None


def engine_version():
    res = run(['docker', 'version', '--format', '{{.Server.Version}}'], check=False)
    return res.stdout.strip() if res.returncode == 0 else None


def start_containers(wanted, timeout):
    """Start what is not running among ``wanted`` (names); wait until each runs (and is healthy if it has a
    healthcheck)."""
    def state():
        return {c['name']: c for c in containers(all_=True)}
    now_state = state()
    to_start = [n for n in wanted if n in now_state and not now_state[n]['running']]
    errors = {}
    for name in to_start:
        res = run(['docker', 'start', name], check=False)
        if res.returncode:
            errors[name] = res.stderr.strip()
    missing = [n for n in wanted if n not in now_state]

    def all_up():
        st = state()
        return all(n in st and st[n]['running'] and st[n]['health'] in (None, 'healthy') for n in wanted)
    try:
        wait_for(all_up, timeout, 'containers {} to run'.format(', '.join(wanted)))
    except StepError as exc:
        st = state()
        bad = {n: (st[n]['status'] + (' ' + st[n]['health'] if st[n]['health'] else '')) if n in st else 'missing'
               for n in wanted if not (n in st and st[n]['running'] and st[n]['health'] in (None, 'healthy'))}
        raise StepError('{}: {}{}'.format(exc, bad, (f' start errors: {errors}') if errors else '')) from None
    return {'started': to_start, 'missing': missing}


def act_start_containers(a):
    return dict(start_containers(a['names'], a.get('timeout', 60)), changed=False)


# ---------------------------------------------------------------------------------------------
# rollback: no apt source needed, restarts in order, orphaned shims cleared

def clear_shims():
    """Kill the shims containerd left behind (a containerd downgrade orphans the newer ones, and their task
    folders make every later start fail with 'file exists')."""
    killed = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as fh:
                cmd = fh.read().split(b'\0')
        except OSError:
            continue
        if cmd and os.path.basename(cmd[0].decode(errors='replace')).startswith('containerd-shim'):
            try:
                os.kill(int(pid), 9)
                killed.append(int(pid))
            except OSError:
                pass
    time.sleep(0.3 if killed else 0)
    removed = []
    for ns in glob.glob(os.path.join(TASK_DIR, '*')):
        for task in glob.glob(os.path.join(ns, '*')):
            run(['umount', '-l', os.path.join(task, 'rootfs')], check=False)
            shutil.rmtree(task, ignore_errors=True)
            removed.append(task)
    return killed, removed


def act_rollback(a):
    t0 = now()
    with open(os.path.join(a['dir'], 'state.json')) as fh:
        state = json.load(fh)
    managed = set(a.get('managed') or []) | set(state['packages'])
    report = {'changed': True, 'dir': a['dir']}
    # 1. stop the engine and containerd (dockerd stops its containers), then whatever shims remain
    run(['systemctl', 'stop', 'docker.socket', 'docker'], check=False)
    run(['systemctl', 'stop', 'containerd'], check=False)
    report['shims_killed'], report['task_dirs_removed'] = clear_shims()
    # 2. the previous packages from the kept .deb files, with no apt source at all
    now_pkgs = installed_packages()
    remove = sorted(p for p in managed if p in now_pkgs and p not in state['packages'])
    reinstall = [d for d in state['debs'] if os.path.exists(d)]
    changed_pkgs = sorted(p for p, v in state['packages'].items() if now_pkgs.get(p) != v)
    if changed_pkgs or remove:
        run(['apt-mark', 'unhold', *sorted(set(holds()) & (managed | set(now_pkgs)))], check=False)
        argv = ['apt-get', '-o', 'Dir::Etc::SourceList=/dev/null', '-o', 'Dir::Etc::SourceParts=/dev/null',
                'install', '-y', '-q', '--no-install-recommends', '--allow-downgrades',
                '--allow-change-held-packages', '-o', 'Dpkg::Options::=--force-confold',
                *reinstall, *[f'{p}-' for p in remove]]
        with NoDaemonRestarts():
            res = run(argv, check=False, env=apt_env())
        if res.returncode:
            raise StepError('rollback: apt-get could not reinstall the kept packages: {}'.format((
                res.stderr or res.stdout).strip()[-1500:]))
        if state.get('holds'):
            run(['apt-mark', 'hold', *state['holds']], check=False)
    report['packages_restored'] = changed_pkgs
    report['packages_removed'] = remove
    report['packages'] = installed_packages(managed)
    # 3. the configuration as it was: daemon.json, containerd's config.toml, the drop-ins (a backup from before
    #    this was kept has no record: nothing to put back)
    report['config'] = restore_config(state['config_files']) if 'config_files' in state else None
    run(['systemctl', 'daemon-reload'])
    # 4. restart in order, each with its readiness wait
    run(['systemctl', 'reset-failed', 'docker', 'containerd'], check=False)
    run(['systemctl', 'start', 'containerd'])
    wait_for(lambda: containerd_server_version() is not None, a.get('timeout', 60), 'containerd', 'containerd')
    run(['systemctl', 'start', 'docker.socket', 'docker'], check=False)
    wait_for(lambda: engine_version() is not None, a.get('timeout', 90), 'dockerd', 'docker')
    report['engine'] = engine_version()
    report['containerd'] = containerd_server_version()
    # 5. what ran before runs again
    report['containers'] = start_containers([c['name'] for c in state['running']], a.get('timeout', 60))
    report['seconds'] = round(now() - t0, 2)
    return report


# ---------------------------------------------------------------------------------------------
# rootless daemons: a user's own dockerd under their systemd --user manager

class Rootless:
    """One user's rootless daemon: systemctl --user as that user (no logind, machined or PAM session needed:
    only the user's manager, user@UID.service, kept running by linger), docker on the user's socket."""

    def __init__(self, a):
        self.user, self.uid = a['user'], int(a['uid'])
        self.unit = a.get('unit') or 'docker.service'
        self.socket = a.get('socket') or f'/run/user/{self.uid}/docker.sock'
        self.runtime = f'/run/user/{self.uid}'

    def systemctl(self, *args, check=True):
        return run(['runuser', '-u', self.user, '--', 'env', f'XDG_RUNTIME_DIR={self.runtime}',
                    f'DBUS_SESSION_BUS_ADDRESS=unix:path={self.runtime}/bus', 'systemctl', '--user', *args],
                   check=check)

    def show(self):
        out = self.systemctl('show', self.unit, '-p', 'ActiveState,SubState,MainPID,NRestarts,LoadState',
                             check=False).stdout
        return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)

    def __enter__(self):
        # the helpers above call docker with the process environment: point them at the user's socket
        self.saved = os.environ.get('DOCKER_HOST')
        os.environ['DOCKER_HOST'] = f'unix://{self.socket}'
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop('DOCKER_HOST', None)
        else:
            os.environ['DOCKER_HOST'] = self.saved

    def journal(self, since):
        """The daemon's own lines (what dockerd-rootless.sh, rootlesskit and dockerd printed) since ``since``."""
        out = run(['journalctl', f'_SYSTEMD_USER_UNIT={self.unit}', f'_UID={self.uid}', '--since',
                   f'@{since - 1:.0f}', '-n', '200', '--no-pager', '-o', 'cat'], check=False).stdout
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        strong = [ln for ln in lines
                  if re.search(r'(?i)failed to start daemon|invalid|refus|\[rootlesskit:.*error', ln)]
        errors = strong or [ln for ln in lines if re.search(r'(?i)level=(error|fatal)|error', ln)] or lines
        return ' | '.join(errors[-3:]) or '(no journal lines)'

    def where(self):
        return (f'{self.user}\'s {self.unit} (see journalctl _SYSTEMD_USER_UNIT={self.unit} _UID={self.uid}, '
                f'or as {self.user}: journalctl --user -u {self.unit})')

    def restart(self, expect, timeout):
        """systemctl --user restart, then wait until the user's socket answers at ``expect``. The unit restarts
        the daemon by itself when it dies (Restart=always): a crash shows as a new automatic restart or the
        unit failed, and fails the wait with the daemon's own journal lines."""
        t0 = now()
        self.systemctl('reset-failed', self.unit, check=False)
        res = self.systemctl('restart', self.unit, check=False)
        if res.returncode:
            why = (res.stderr or res.stdout).strip()
            raise StepError(f'rootless dockerd of {self.user} failed to restart: {why}: {self.journal(t0)}')
        first = self.show()
        restarts = int(first.get('NRestarts') or 0)

        def ready():
            running = engine_version()
            if running is not None and upstream(running) == upstream(expect or running):
                return True
            st = self.show()
            if st.get('ActiveState') == 'failed' or st.get('SubState') == 'auto-restart' or \
                    int(st.get('NRestarts') or 0) > restarts:
                time.sleep(0.5)
                raise StepError('rootless dockerd {} of {} failed to start ({} {}): {}. Look at {}'.format(
                    expect, self.user, st.get('ActiveState'), st.get('SubState'), self.journal(t0), self.where()))
            return False
        try:
            up = wait_for(ready, timeout, f'the rootless dockerd {expect} of {self.user} to answer on {self.socket}')
        except StepError as exc:
            if 'timed out' in str(exc):
                raise StepError(f'{exc}: {self.journal(t0)}. Look at {self.where()}') from None
            raise
        return t0, up, int(self.show().get('MainPID') or 0)


def parse_ts(ts):
    m = re.match(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?', ts or '')
    if not m or ts.startswith('0001'):
        return None
    return time.mktime(time.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S')) - time.timezone + float(m.group(2) or 0)


def down_seconds(before, after):
    down = {}
    for c in before:
        now_c = after.get(c['id'])
        if now_c and now_c['pid'] == c['pid'] and now_c['running']:
            down[c['name']] = 0.0
        elif now_c:
            fin, start = parse_ts(now_c['finished_at']), parse_ts(now_c['started_at'])
            down[c['name']] = round(start - fin, 2) if fin and start and start > fin else None
    return down


def act_restart_rootless(a):
    """Restart one user's rootless daemon on the newly installed dockerd: stop its containers through its API
    (unless live-restore keeps them), restart the unit, wait until it answers at the target, start the
    containers that ran before and wait until they run. The containers are noted on the host first, so a
    rollback can bring them back."""
    expect, timeout = a.get('expect') or '', a.get('timeout', 90)
    daemon = Rootless(a)
    with daemon:
        running = engine_version()
        if running is not None and expect and upstream(running) == upstream(expect):
            return {'changed': False, 'user': daemon.user, 'version': running,
                    'reason': f'the rootless daemon already runs {running}'}
        unit = daemon.show()
        if unit.get('LoadState') != 'loaded':
            state = unit.get('LoadState') or 'unknown'
            raise StepError(f'{daemon.user}\'s rootless dockerd is not a systemd --user unit ({daemon.unit} is '
                            f'{state}): the role cannot restart it. Run it as {daemon.unit} '
                            '(dockerd-rootless-setuptool.sh install) or restart it yourself on the new dockerd')
        before = [c for c in containers() if c['running']] if running is not None else []
        live = running is not None and run(['docker', 'info', '--format', '{{.LiveRestoreEnabled}}'],
                                           check=False).stdout.strip() == 'true'
        if a.get('dir'):
            with open(os.path.join(a['dir'], f'rootless-{daemon.user}.json'), 'w') as fh:
                json.dump({'user': daemon.user, 'uid': daemon.uid, 'unit': daemon.unit, 'socket': daemon.socket,
                           'version': running, 'running': before}, fh, indent=1, sort_keys=True)
        stop_seconds = 0.0
        if before and not live:
            t = now()
            run(['docker', 'stop', *[c['id'] for c in before]], check=False, timeout=timeout + 30)
            stop_seconds = now() - t
        pid_before = int(unit.get('MainPID') or 0)
        t0, up, pid_after = daemon.restart(expect, timeout)
        started = start_containers([c['name'] for c in before], timeout)
        after = {c['id']: c for c in containers(all_=True)}
        return {'changed': True, 'user': daemon.user, 'unit': daemon.unit, 'version_before': running,
                'version': engine_version(), 'restart_seconds': round(up - t0, 2),
                'stop_seconds': round(stop_seconds, 2), 'live_restore': live, 'main_pid': [pid_before, pid_after],
                'containers_down_seconds': down_seconds(before, after), 'containers_started': started['started']}


def act_rollback_rootless(a):
    """After the packages are back: every rootless daemon restart-rootless touched (its note in the backup
    folder) that does not answer, or runs another dockerd than the installed one, restarted again, and the
    containers that ran in it running again."""
    installed = upstream(run(['dockerd', '--version'], check=False).stdout.replace('Docker version ', ''))
    report, errors = {'changed': False, 'daemons': {}}, []
    for note in sorted(glob.glob(os.path.join(a['dir'], 'rootless-*.json'))):
        with open(note) as fh:
            state = json.load(fh)
        daemon = Rootless(state)
        try:
            with daemon:
                running = engine_version()
                restart = running is None or upstream(running) != installed
                if restart:
                    t0, up, _pid = daemon.restart(installed, a.get('timeout', 90))
                started = start_containers([c['name'] for c in state['running']], a.get('timeout', 60))
                report['changed'] = report['changed'] or restart
                report['daemons'][daemon.user] = dict(
                    {'restarted': restart, 'version': engine_version(), 'containers_started': started['started']},
                    **({'restart_seconds': round(up - t0, 2)} if restart else {}))
        except StepError as exc:
            errors.append(str(exc))
    if errors:
        raise StepError('; '.join(errors))
    return report


ACTIONS = {
    'resolve': act_resolve, 'snapshot': act_snapshot, 'backup': act_backup,
    'start-containers': act_start_containers, 'rollback': act_rollback,
    'restart-rootless': act_restart_rootless, 'rollback-rootless': act_rollback_rootless,
}


def main(argv):
    if len(argv) != 3 or argv[1] not in ACTIONS:
        print(json.dumps({'error': 'usage: {} {{{}}} BASE64_JSON'.format(argv[0], ','.join(ACTIONS))}))
        return 2
    args = json.loads(base64.b64decode(argv[2]).decode())
    if args.get('cwd'):
        os.makedirs(args['cwd'], exist_ok=True)
        os.chdir(args['cwd'])
    try:
        result = ACTIONS[argv[1]](args)
    except (StepError, subprocess.TimeoutExpired, OSError, ValueError) as exc:
        print(json.dumps({'error': str(exc), 'action': argv[1]}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
