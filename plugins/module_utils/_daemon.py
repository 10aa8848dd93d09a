# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# A daemon restarted and waited for until it answers: containerd or dockerd under systemd, or a user's rootless
# dockerd under their systemd --user manager. One readiness wait, one reading of the daemon's reason from its
# journal when it does not come back, and the containers that ran before started again as soon as it answers.
# Used by the daemon_restart module (the roles' restarts) and by engine_rollback (the rollback's restarts).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import calendar
import json
import os
import re
import time

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import answers
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import containers_act
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import get_json
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import inspect_containers
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import ProtocolError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._engine_api import server_version
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    daemon_is_stale, live_restore_covers, parse_ctr_version, upstream_version)

# A daemon that refuses to start says why in a plain line; these beat the old daemon's shutdown errors.
_STRONG = re.compile(r'(?i)failed to start daemon|invalid|refus|ERROR:|\[rootlesskit:.*error')
_ERRORS = re.compile(r'(?i)level=(error|fatal)')


def reason_from_lines(lines, unit=''):
    """The daemon's own reason for failing among its journal ``lines`` (systemd's lines about the unit left out):
    the last three plain refusals, else the last error-level lines, else the last lines."""
    lines = [ln.strip() for ln in lines if ln.strip() and not (unit and ln.startswith(unit))]
    strong = [ln for ln in lines if _STRONG.search(ln)]
    errors = strong or [ln for ln in lines if _ERRORS.search(ln)] or lines
    return ' | '.join(errors[-3:]) or '(no journal lines)'


class Daemon(object):
    """containerd or dockerd under systemd (scope system), or a user's rootless dockerd (scope rootless)."""

    def __init__(self, unit, scope='system', user=None, uid=None, socket=None):
        self.unit, self.scope = unit, scope
        self.user, self.uid = user, (int(uid) if uid not in (None, '') else None)
        self.runtime = '/run/user/%s' % self.uid if scope == 'rootless' else None
        if scope == 'rootless':
            self.socket = socket or '%s/docker.sock' % self.runtime
        else:
            self.socket = socket
        self.kind = 'containerd' if unit.startswith('containerd') else 'docker'

    # --- systemctl and the journal ------------------------------------------------------------------------
    def systemctl(self, *args, **kw):
        if self.scope == 'rootless':
            argv = ['runuser', '-u', self.user, '--', 'env', 'XDG_RUNTIME_DIR=%s' % self.runtime,
                    'DBUS_SESSION_BUS_ADDRESS=unix:path=%s/bus' % self.runtime, 'systemctl', '--user']
        else:
            argv = ['systemctl']
        return R.run(argv + list(args), check=kw.get('check', True))

    def show(self):
        out = self.systemctl('show', self.unit, '-p', 'ActiveState,SubState,MainPID,NRestarts,LoadState,Job',
                             check=False).stdout
        return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)

    def coming_up(self):
        """Whether systemd is bringing the unit up now: activating (or reloading), or a job queued for it - a restart
        of a unit it requires queues its restart, which waits for that unit (systemctl restart containerd returns
        while docker.service is still activating with its job)."""
        st = self.show()
        return st.get('ActiveState') in ('activating', 'reloading') or bool(st.get('Job', '').strip())

    def journal_lines(self, since=None):
        if self.scope == 'rootless':
            argv = ['journalctl', '_SYSTEMD_USER_UNIT=%s' % self.unit, '_UID=%s' % self.uid]
        else:
            argv = ['journalctl', '-u', self.unit]
        if since is not None:
            argv += ['--since', '@%d' % int(since - 1)]
        # a rootless daemon restarted by systemd again and again prints RootlessKit's lines each time: its own
        # refusal may lie further back than a system daemon's
        lines = '200' if self.scope == 'rootless' else '80'
        return R.run(argv + ['-n', lines, '--no-pager', '-o', 'cat'], check=False).stdout.splitlines()

    def reason(self, since=None, wait=2.0):
        """The reason from the journal; journald may need a moment to have the daemon's last lines."""
        end = R.now() + wait
        while True:
            lines = self.journal_lines(since)
            found = [ln for ln in lines if _STRONG.search(ln)]
            if found or R.now() >= end:
                return reason_from_lines(lines, '' if self.scope == 'rootless' else self.unit)
            time.sleep(0.2)

    def where(self):
        if self.scope == 'rootless':
            return ('%s\'s %s (journalctl _SYSTEMD_USER_UNIT=%s _UID=%s, or as %s: journalctl --user -u %s)'
                    % (self.user, self.unit, self.unit, self.uid, self.user, self.unit))
        return 'journalctl -u %s' % self.unit

    def name(self):
        return ('the rootless dockerd of %s' % self.user) if self.scope == 'rootless' else self.unit

    # --- the daemon's API -----------------------------------------------------------------------------------
    def version(self):
        """The version the daemon answers with, or None while it does not answer."""
        if self.kind == 'containerd':
            argv = ['ctr'] + (['--address', self.socket] if self.socket else []) + ['version']
            res = R.run(argv, check=False, timeout=30)
            server = parse_ctr_version(res.stdout)['server'].get('Version') if res.returncode == 0 else None
            return server or None
        # the engine's own answer on its socket: polled while a restart is waited for, so no client program each time
        return server_version(self.api_socket())

    def api_socket(self):
        """The Docker engine's unix socket (the system's default, or the rootless daemon's)."""
        return self.socket or '/var/run/docker.sock'

    def act(self, names, action, timeout, retry_for=None):
        """start or stop the containers ``names`` (names or IDs) all at once through the engine's API; {name: reason}
        of those the daemon refused."""
        if self.scope == 'rootless' and not os.path.exists(self.api_socket()):
            raise R.OpError('%s answers on no socket at %s' % (self.name(), self.api_socket()))
        done = containers_act(self.api_socket(), names, action, timeout=timeout, retry_for=retry_for)
        return dict((n, why) for n, why in done.items() if why)

    # the engine's own documents on its socket, as `docker info` and `docker inspect $(docker ps -q)` print them,
    # without starting a client program for each look
    def live_restore(self):
        return (get_json(self.api_socket(), '/info') or {}).get('LiveRestoreEnabled') is True

    def containers(self, all_=False, strict=False):
        """The containers as inspected ([] while the engine does not answer). ``strict``: an engine that does not
        list them is an error (OpError), for a caller that would otherwise take it for a host without containers."""
        try:
            return containers_from_inspect(inspect_containers(self.api_socket(), all_=all_, strict=strict))
        except ProtocolError as exc:
            raise R.OpError('%s: %s' % (self.name(), exc)) from None

    # --- restart and wait --------------------------------------------------------------------------------
    def restart(self, want, timeout, restart=True):
        """Restart the unit (or only wait, restart=False) until it answers as ``want`` (an upstream version or
        line; '' = any). (start, answered) times. A daemon that fails, or restarts by itself again (a crash
        under Restart=always), ends the wait with its own reason."""
        t0 = R.now()
        before = self.show()
        if restart:
            self.systemctl('reset-failed', self.unit, check=False)
            res = self.systemctl('restart', self.unit, check=False)
            if res.returncode:
                raise R.OpError('%s %s failed to start: %s (%s)' % (
                    self.name(), want, self.reason(t0), self.where()))
        restarts = int(self.show().get('NRestarts') or 0) if restart else int(before.get('NRestarts') or 0)
        last = {'version': None}

        def ready():
            last['version'] = self.version()
            return last['version'] is not None and (not want or answers_as(last['version'], want))

        def failed():
            st = self.show()
            if st.get('ActiveState') == 'failed' or st.get('SubState') == 'auto-restart' or \
                    int(st.get('NRestarts') or 0) > restarts:
                raise R.OpError('%s %s failed to start (%s %s): %s (%s)' % (
                    self.name(), want, st.get('ActiveState'), st.get('SubState'), self.reason(t0), self.where()))
        try:
            up = R.wait_for(ready, timeout, '%s to answer as %s' % (self.name(), want or 'any version'), failed)
        except R.OpError as exc:
            if 'timed out' not in str(exc):
                raise
            raise R.OpError('%s did not answer as %s within %ss (last answer: %s): %s (%s)' % (
                self.name(), want, timeout, last['version'] or 'none', self.reason(t0), self.where())) from None
        return t0, up


# what systemd records of a unit: whether it runs, whether it starts at boot, and when it last stopped and started
UNIT_PROPERTIES = 'Id,ActiveState,UnitFileState,ActiveEnterTimestampMonotonic,ActiveExitTimestampMonotonic'


def parse_show_units(text):
    """{unit: {active, enabled, last_restart_seconds}} from ``systemctl show -p UNIT_PROPERTIES UNIT...`` (one block
    of KEY=value lines per unit). ``last_restart_seconds``: from the unit's last stop to its start again, by systemd's
    own clock; 0.0 when it never stopped since boot or is not active again yet."""
    out = {}
    for block in text.split('\n\n'):
        props = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        if not props.get('Id'):
            continue
        enter = int(props.get('ActiveEnterTimestampMonotonic') or 0)
        leave = int(props.get('ActiveExitTimestampMonotonic') or 0)
        out[props['Id']] = {'active': props.get('ActiveState') == 'active',
                            'enabled': props.get('UnitFileState') or '',
                            'last_restart_seconds': round((enter - leave) / 1e6, 2) if 0 < leave < enter else 0.0}
    return out


def units_state(units):
    """parse_show_units for the system units ``units`` (names with their .service / .socket suffix)."""
    res = R.run(['systemctl', 'show', '-p', UNIT_PROPERTIES] + list(units), check=False)
    return parse_show_units(res.stdout)


def answers_as(version, want):
    """Whether a daemon's answer ``version`` ('26.1.5+dfsg1', '2.1.9+unknown') is ``want`` (release or line)."""
    a, b = upstream_version(version), upstream_version(want)
    if a is None or b is None:
        return False
    return a.split('.')[:2] == b.split('.')[:2] if str(want).count('.') == 1 else a == b


def containers_from_inspect(items):
    out = []
    for c in items:
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


def parse_ts(ts):
    """Docker's RFC 3339 time (nanoseconds, UTC) -> epoch seconds; None for the zero time."""
    m = re.match(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z?$', ts or '')
    if not m or ts.startswith('0001'):
        return None
    return calendar.timegm(time.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S')) + float(m.group(2) or 0)


def down_seconds(before, after):
    """name -> seconds each container of ``before`` was down (0 when the same process still runs)."""
    down = {}
    for c in before:
        now_c = after.get(c['id'])
        if now_c and now_c['pid'] == c['pid'] and now_c['running']:
            down[c['name']] = 0.0
        elif now_c:
            fin, start = parse_ts(now_c['finished_at']), parse_ts(now_c['started_at'])
            down[c['name']] = round(start - fin, 2) if fin and start and start > fin else None
    return down


# how dockerd words a 404 for a container it does not know (20.10 to 28)
NO_SUCH_CONTAINER = 'No such container'


def start_containers(daemon, wanted, timeout, wait=True):
    """Start what is not running among ``wanted`` (names or IDs) and wait until each runs (and is healthy where
    it has a healthcheck). dockerd may still be reconnecting to a restarted containerd: a refused start is
    tried again until the wait ends. Returns {'started': [...], 'missing': [...]}."""
    def state():
        st = {}
        for c in daemon.containers(all_=True):
            st[c['name']] = c
            st[c['id']] = c
        return st
    if not wait:
        # as soon as the daemon answers, nothing listed first: every container asked to start at once (one that runs
        # already answers 304), one the daemon does not know is missing
        refused = daemon.act(list(wanted), 'start', timeout, retry_for=timeout) if wanted else {}
        missing = [n for n, why in refused.items() if why.startswith(NO_SUCH_CONTAINER)]
        pending = sorted(n for n in refused if n not in missing)
        if pending:
            raise R.OpError('docker start %s failed: %s' % (' '.join(pending), '; '.join(
                '%s: %s' % (n, refused[n]) for n in pending)))
        return {'started': [n for n in wanted if n not in missing], 'missing': missing}
    now_state = state()
    to_start = [n for n in wanted if n in now_state and not now_state[n]['running']]
    missing = [n for n in wanted if n not in now_state]
    end = R.now() + timeout
    # all at once, each tried again until the wait ends (dockerd may still be reconnecting to containerd)
    refused = daemon.act(to_start, 'start', timeout, retry_for=timeout) if to_start else {}
    errors = {'start': '; '.join('%s: %s' % kv for kv in sorted(refused.items()))} if refused else {}
    pending = sorted(refused)

    def up(st, n):
        return n in st and st[n]['running'] and st[n]['health'] in (None, 'healthy')
    present = [n for n in wanted if n not in missing]
    names = dict((n, now_state[n]['name']) for n in to_start)
    try:
        R.wait_for(lambda: all(up(state(), n) for n in present), max(1, round(end - R.now())),
                   'containers %s to run' % ', '.join(present))
    except R.OpError as exc:
        st = state()
        bad = dict((n, (st[n]['status'] + (' ' + st[n]['health'] if st[n]['health'] else '')) if n in st
                    else 'missing') for n in present if not up(st, n))
        raise R.OpError('%s: %s%s' % (exc, bad, (' start errors: %s' % errors) if errors else '')) from None
    return {'started': [names[n] for n in to_start], 'missing': missing}


def bring_back(daemon, timeout):
    """Wait until ``daemon`` answers while systemd brings it back (activating, or a job queued for it, as for
    docker.service restarted with a containerd.service it requires); restart it once only when it does not answer
    and systemd is not starting it. Whether it was restarted here."""
    # not answering, systemd not starting it, and still not answering (it may have come up in between)
    restart = daemon.version() is None and not daemon.coming_up() and daemon.version() is None
    daemon.restart('', timeout, restart=restart)
    return restart


def containers_to_stop(daemon, answering, want, containers=None, running=False):
    """(engine, containers, live_restore, kept_by_live_restore): the Docker engine whose containers they are (the
    daemon itself, or the system engine when the daemon is containerd) and the containers a restart stops and
    starts again - ``containers`` (names or IDs), or with ``running`` every running one unless live-restore keeps
    them across this change (dockerd promises that across a patch release of the same line only)."""
    engine = daemon if daemon.kind == 'docker' else Daemon('docker.service')
    engine_answers = answering if engine is daemon else engine.version()
    if engine_answers is None or not (containers or running):
        return engine, [], None, False
    listed = engine.containers(all_=True, strict=True)
    if running:
        live = engine.live_restore()
        if live and bool(want) and live_restore_covers(engine_answers, want):
            return engine, [], live, True
        return engine, [c for c in listed if c['running']], live, False
    wanted = set(containers)
    return engine, [c for c in listed if c['id'] in wanted or c['name'] in wanted], None, False


def restart_with_containers(daemon, want, timeout, restart=True, containers=None, running=False, note=None,
                            wait=True, wait_engine=False):
    """The one restart of a daemon the upgrade and the rollback do: the containers to stop (containers_to_stop)
    noted (in ``note``, a JSON file, when given) and stopped cleanly while the API still answers, then the restart
    (or only the wait, restart=False) until the daemon answers as ``want``, then those containers started again
    as soon as it answers. For containerd with containers to start (or ``wait_engine``), dockerd is waited for
    too (bring_back: systemd restarts it with containerd when its unit requires containerd's). Returns what
    happened, with each container's downtime from its own stop and start times."""
    answering = daemon.version()
    engine, before, live, kept = containers_to_stop(daemon, answering, want, containers, running)
    result = {'unit': daemon.unit, 'scope': daemon.scope, 'restarted': restart, 'version_before': answering,
              'live_restore': live, 'live_restore_kept_containers': kept, 'containers_stopped': [],
              'containers_started': [], 'containers_gone': [], 'containers_down_seconds': {}, 'stop_seconds': 0.0}
    if note:
        with open(note, 'w') as fh:
            json.dump({'user': daemon.user, 'uid': daemon.uid, 'unit': daemon.unit, 'socket': daemon.socket,
                       'version': answering, 'running': [c for c in before if c['running']]}, fh,
                      indent=1, sort_keys=True)
    stop = [c for c in before if c['running']]
    if stop and restart:
        t = R.now()
        # all at once, each with its own stop timeout, as docker stop does
        refused = engine.act([c['id'] for c in stop], 'stop', timeout + 30)
        if refused:
            names = dict((c['id'], c['name']) for c in stop)
            raise R.OpError('docker stop failed before the restart of %s: %s' % (
                daemon.name(), '; '.join('%s: %s' % (names[i], why) for i, why in sorted(refused.items()))))
        result['stop_seconds'] = round(R.now() - t, 2)
        result['containers_stopped'] = [c['name'] for c in stop]
    engine_pid = engine.show().get('MainPID') if engine is not daemon else None
    t0, up = daemon.restart(want, timeout, restart=restart)
    result['started_at'], result['answered_at'] = t0, up
    result['seconds'] = round(up - t0, 2)
    if engine is not daemon and (before or containers or wait_engine):
        # containerd restarted under dockerd: dockerd may be restarting with it (its unit Requires= containerd's);
        # its containers start once it answers
        result['engine_restarted_by_role'] = bring_back(engine, timeout)
        result['engine_restarted'] = engine_pid not in (None, '', '0') and engine.show().get('MainPID') != engine_pid
    if containers and not before:
        # the engine did not answer before (systemd was restarting it, with containerd): the named containers,
        # stopped already by the step that restarted containerd, are found now that it answers
        before = containers_to_stop(daemon, daemon.version() if engine is daemon else engine.version(), want,
                                    containers)[1]
    if before:
        started = start_containers(engine, [c['name'] for c in before], timeout, wait=wait)
        result['containers_started'], result['containers_gone'] = started['started'], started['missing']
    result['version'] = daemon.version()
    if before:
        after = dict((c['id'], c) for c in engine.containers(all_=True))
        result['containers_down_seconds'] = down_seconds(before, after)
    return result


def daemon_state(unit, package=None):
    """A system daemon (V(containerd) or V(docker)) as it runs, against its installed PACKAGE: what the module
    daemon_state returns (its RETURN block documents each key); package_step returns it too after its packages."""
    daemon = Daemon('%s.service' % unit)
    shown = daemon.show()
    active = shown.get('ActiveState') == 'active'
    exe = ''
    pid = int(shown.get('MainPID') or 0)
    if pid > 0:
        try:
            exe = os.readlink('/proc/%d/exe' % pid)
        except OSError:
            exe = ''
    version = api = min_api = ''
    if active and unit == 'docker':
        # the engine's own answer on its socket: its version and API range in one request
        server = get_json(daemon.api_socket(), '/version')
        server = server if isinstance(server, dict) else {}
        version, api, min_api = (str(server.get(k) or '') for k in ('Version', 'ApiVersion', 'MinAPIVersion'))
    elif active:
        version = daemon.version() or ''
    installed, held = '', False
    if package:
        res = R.run(['dpkg-query', '-W', '-f=${db:Status-Abbrev}|${Version}', package], check=False)
        status, _sep, ver = res.stdout.partition('|')
        installed = ver.strip() if res.returncode == 0 and status[1:2] == 'i' else ''
        held = bool(installed) and status[:1] == 'h'  # the selection: h(old), i(nstall), ...
    replaced = exe.endswith(' (deleted)')
    stale = bool(active and installed and (not version or daemon_is_stale(version, installed, replaced)))
    units = units_state(['containerd.service', 'docker.service'])
    services = dict((name, {'active': units.get(name + '.service', {}).get('active', False),
                            'enabled': units.get(name + '.service', {}).get('enabled', '')})
                    for name in ('containerd', 'docker'))
    docker_answers = bool(version) if unit == 'docker' else answers()
    return dict(active=active, version=version, upstream=upstream_version(version) or '', binary_replaced=replaced,
                api_version=api, min_api_version=min_api, installed=installed,
                installed_upstream=upstream_version(installed) or '', held=held, stale=stale, services=services,
                last_restart_seconds=units.get(unit + '.service', {}).get('last_restart_seconds', 0.0),
                docker_answers=docker_answers)
