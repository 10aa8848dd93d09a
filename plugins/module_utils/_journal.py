# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The journal of an upgrade run, kept on the host beside the run's backup (ROOT/RUN/journal.json, root's alone):
# what the run intended (target, plan, the containers that ran, package versions and holds at its start) and what
# it completed, step by step. Every write is atomic (a private temporary file, fsync, rename, fsync of the folder):
# a controller that dies, a connection that drops or a host that loses power leaves the last whole record.
#
# A section that must never be cut in half (containers stopped -> daemon restarted -> containers started; the
# rollback) runs as a transient systemd unit that executes this collection's own module_utils from the calling
# module's payload, copied into the run folder: the module only waits for the unit, and a hang-up that ends the
# module leaves the section running to its end. The unit writes how it ended to ROOT/RUN/sections/NAME.json.
# The next run finds an unfinished journal (find_unfinished), waits for a section still running, and either rolls
# the host back to the run's backup or resumes it (recover).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import time

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _engine_api as E
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R

JOURNAL = 'journal.json'
SECTIONS = 'sections'
# the statuses of a run that ended; any other (running, rolling_back) is an unfinished run
FINAL = ('upgraded', 'unchanged', 'blocked', 'failed', 'rolled_back', 'rollback_failed', 'recovered', 'abandoned')
UNIT_PREFIX = 'fleetsafe-ce-'
_ENTRY = ('import sys; sys.path.insert(0, sys.argv[1]); '
          'from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J; '
          'sys.exit(J.section_main(sys.argv[2], sys.argv[3]))')


def utcnow():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


# ---------------------------------------------------------------------------------------------------------------
# atomic records

def write_json(path, data):
    """Write ``data`` as JSON to ``path``: a private temporary file in the same folder, fsync, rename, fsync of
    the folder. A reader sees the old record or the new one, never half of one."""
    folder = os.path.dirname(path)
    tmp = '%s.%d.tmp' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, json.dumps(data, indent=1, sort_keys=True).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_json(path):
    """The record at ``path``, or None when there is none."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------------
# the journal

class Journal(object):
    """ROOT/RUN/journal.json; each method rewrites it whole and returns the record."""

    def __init__(self, dest):
        self.dest = dest
        self.path = os.path.join(dest, JOURNAL)

    def load(self):
        return read_json(self.path)

    def save(self, record):
        write_json(self.path, record)
        return record

    def begin(self, run, target, plan, intent):
        """The run's intent, written before its backup and before any change."""
        os.makedirs(self.dest, mode=0o700, exist_ok=True)
        return self.save({'run': run, 'status': 'running', 'started': utcnow(), 'target': target, 'plan': plan,
                          'intent': intent, 'backup': False, 'steps': [], 'events': []})

    def update(self, **fields):
        rec = self.load()
        if rec is None:
            raise R.OpError('%s holds no journal' % self.dest)
        rec.update(fields)
        return self.save(rec)

    def event(self, what, **fields):
        rec = self.load()
        if rec is None:
            raise R.OpError('%s holds no journal' % self.dest)
        rec.setdefault('events', []).append(dict(fields, what=what, at=utcnow()))
        return self.save(rec)

    def step(self, step, status, result=None, holds=None, running=None):
        """Step ``step`` (a plan step: order, action, component, to) started, done or failed. ``running`` (name ->
        main pid of the running containers, now): kept as the step's ``running_before`` when it starts; when it
        ends, the result gains ``containers_kept_running`` (the same process before and after) and
        ``containers_restarted`` (the others that ran before it)."""
        rec = self.load()
        if rec is None:
            raise R.OpError('%s holds no journal' % self.dest)
        key = (step.get('order'), step.get('action'))
        found = [s for s in rec['steps'] if (s.get('order'), s.get('action')) == key and s['status'] == 'started']
        if status == 'started' or not found:
            rec['steps'].append(dict({'order': step.get('order'), 'action': step.get('action'),
                                      'component': step.get('component'), 'to': step.get('to'),
                                      'status': status, 'started': utcnow()},
                                     **({'packages': step['packages']} if step.get('packages') else {})))
            found = rec['steps'][-1:]
            if status == 'started' and running is not None:
                found[-1]['running_before'] = running
        if status != 'started':
            found[-1].update(status=status, ended=utcnow())
            if running is not None:
                kept, restarted = E.kept_and_restarted(found[-1].get('running_before') or {}, running)
                result = dict(result or {}, containers_kept_running=kept, containers_restarted=restarted)
            if result is not None:
                found[-1]['result'] = result
            if holds is not None:
                found[-1]['holds'] = holds
        return self.save(rec)

    def finish(self, status, **fields):
        return self.update(status=status, ended=utcnow(), **fields)


def is_unfinished(rec):
    return bool(rec) and rec.get('status') not in FINAL


def begin_run(root, run, target, plan, packages, snap=None):
    """Begin run ``run``'s journal under ``root`` (both folders root's alone) with its target, plan and intent: the
    running containers, the engine, the packages and holds as they are now (``snap``, as _backup.snapshot took it,
    else taken here). Written before the backup and any change (upgrade_journal event=begin, engine_backup with
    journal)."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    dest = os.path.join(root, run)
    B.private_dir(root)
    B.private_dir(dest)
    snap = snap or B.snapshot(packages)
    intent = {'running': [c['name'] for c in snap['running']], 'engine': snap['engine'],
              'packages': snap['packages'], 'holds': snap['holds']}
    return Journal(dest).begin(run, target, plan, intent)


def backup_done(dest, next_step=None):
    """Note in run folder ``dest``'s journal that its backup is complete and, with ``next_step``, that this plan
    step starts (with the running containers' processes, as every step start notes them)."""
    journal = Journal(dest)
    rec = journal.update(backup=True)
    if next_step:
        rec = journal.step(next_step, 'started', running=E.running_pids())
    return rec


def find_unfinished(root, but=None):
    """The folder of the newest run under ``root`` whose journal did not end (other than ``but``), or None."""
    for path in sorted(glob.glob(os.path.join(root, '*', JOURNAL)), reverse=True):
        dest = os.path.dirname(path)
        if but and os.path.basename(dest) == but:
            continue
        if is_unfinished(read_json(path)):
            return dest
    return None


def changed_anything(rec, sections):
    """Whether an unfinished run may have changed the host: a step or a section started (the backup alone
    changes nothing but its own folder)."""
    return bool(rec.get('steps') or sections)


# ---------------------------------------------------------------------------------------------------------------
# sections run by systemd, independently of the connection

def sections(dest):
    """name -> section record, in the order they started."""
    out = {}
    for path in sorted(glob.glob(os.path.join(dest, SECTIONS, '*.json')), key=os.path.getmtime):
        rec = read_json(path)
        if rec:
            out[os.path.basename(path)[:-5]] = rec
    return out


def unit_name(dest, name):
    return '%s%s-%s.service' % (UNIT_PREFIX, os.path.basename(dest.rstrip('/')), name)


def unit_active(unit):
    res = R.run(['systemctl', 'is-active', unit], check=False)
    return res.stdout.strip() in ('active', 'activating', 'deactivating', 'reloading')


def systemd_runs():
    return os.path.isdir('/run/systemd/system') and shutil.which('systemd-run') is not None


def payload_root():
    """The sys.path entry this collection's code was imported from: the module's AnsiballZ payload (a zip file)
    or, outside Ansible, the folder that holds ansible_collections/."""
    here = os.path.abspath(__file__)
    path = here
    while path and path != os.path.dirname(path):
        if os.path.isfile(path) and path != here:
            return path
        if os.path.basename(path) == 'ansible_collections':
            return os.path.dirname(path)
        path = os.path.dirname(path)
    raise R.OpError('cannot find where %s was imported from' % here)


def _section_file(dest, name):
    return os.path.join(dest, SECTIONS, name + '.json')


def free_name(dest, name):
    """``name``, or ``name-2``, ``name-3``... when a section of that name already ran in this run."""
    cand, n = name, 1
    while os.path.exists(_section_file(dest, cand)):
        n += 1
        cand = '%s-%d' % (name, n)
    return cand


def run_section(dest, name, func, kwargs, timeout):
    """Run ``FUNCS[func](**kwargs)`` as section ``name`` of the run in ``dest``: in a transient systemd unit
    when systemd runs the host (the caller only waits for it), else in this process. Returns the function's
    result; raises OpError with its error."""
    if func not in FUNCS:
        raise R.OpError('no section function %s' % func)
    name = free_name(dest, name)
    folder = os.path.join(dest, SECTIONS)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    spec = {'name': name, 'func': func, 'kwargs': kwargs, 'status': 'pending', 'created': utcnow()}
    if not systemd_runs():
        write_json(_section_file(dest, name), dict(spec, detached=False))
        return _execute(dest, name)
    src = payload_root()
    code = os.path.join(folder, name + ('.zip' if os.path.isfile(src) else '.path'))
    if os.path.isfile(src):
        shutil.copyfile(src, code)
        os.chmod(code, 0o600)
        sys_path = code
    else:
        sys_path = src
    unit = unit_name(dest, name)
    write_json(_section_file(dest, name), dict(spec, detached=True, unit=unit, code=sys_path))
    python = sys.executable or '/usr/bin/python3'
    R.run(['systemd-run', '--quiet', '--collect', '--unit', unit, '--service-type=exec',
           '--property=KillMode=mixed', '--description', 'fleetsafe.container_engine %s of run %s' % (
               name, os.path.basename(dest)),
           python, '-c', _ENTRY, sys_path, dest, name])
    return wait_section(dest, name, timeout)


def wait_section(dest, name, timeout):
    """Wait until section ``name`` ended (its record says so, or its unit is gone); its result."""
    path = _section_file(dest, name)
    end = R.now() + timeout
    asked = [None]   # when the unit was last asked whether it runs

    def ended():
        rec = read_json(path) or {}
        if rec.get('status') in ('done', 'failed'):
            return True
        # the record tells the end (read often: a file); the unit is asked (a systemctl process) once a second, for
        # a section killed before it could write its end
        if asked[0] is not None and R.now() - asked[0] < 1.0:
            return False
        asked[0] = R.now()
        return not unit_active(rec.get('unit') or '')
    while not ended():
        if R.now() > end:
            raise R.OpError('section %s (%s) did not end within %ss; it goes on on the host' % (
                name, unit_name(dest, name), timeout))
        time.sleep(0.1)
    rec = read_json(path) or {}
    if rec.get('status') == 'done':
        return rec.get('result')
    if rec.get('status') == 'failed':
        raise R.OpError(rec.get('error') or 'section %s failed' % name)
    raise R.OpError('section %s ended without a result (its unit %s was stopped or killed)' % (
        name, rec.get('unit')))


def wait_running_sections(dest, timeout):
    """Wait for every section of the run in ``dest`` whose unit still runs (a dead controller's section goes on
    to its end); name -> record afterwards."""
    for name, rec in sections(dest).items():
        if rec.get('detached') and rec.get('status') not in ('done', 'failed') and unit_active(rec.get('unit', '')):
            try:
                wait_section(dest, name, timeout)
            except R.OpError:
                pass
    return sections(dest)


def _execute(dest, name):
    path = _section_file(dest, name)
    spec = read_json(path)
    spec.update(status='running', pid=os.getpid(), started=utcnow())
    write_json(path, spec)
    try:
        result = FUNCS[spec['func']](**spec['kwargs'])
    # any failure is the section's failure, recorded for the module that waits and for the next run
    except Exception as exc:  # pylint: disable=broad-except
        spec.update(status='failed', error=str(exc) or exc.__class__.__name__, ended=utcnow())
        write_json(path, spec)
        raise R.OpError(spec['error']) from None
    spec.update(status='done', result=result, ended=utcnow())
    write_json(path, spec)
    return result


def section_main(dest, name):
    """The unit's entry point: run the section, record how it ended; exit status 0 or 1."""
    try:
        _execute(dest, name)
    except R.OpError:
        return 1
    return 0


# ---------------------------------------------------------------------------------------------------------------
# what a section may run: the upgrade's one restart and the rollback

def _restart(unit, scope, user, uid, socket, want, timeout, restart, containers, running, note, wait,
             wait_engine=False):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
    daemon = D.Daemon(unit, scope=scope, user=user, uid=uid, socket=socket)
    return D.restart_with_containers(daemon, want, timeout, restart=restart, containers=containers,
                                     running=running, note=note, wait=wait, wait_engine=wait_engine)


def _rollback(dest, managed, timeout):
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    return B.rollback(dest, managed, timeout)


FUNCS = {'restart': _restart, 'rollback': _rollback}


# ---------------------------------------------------------------------------------------------------------------
# an unfinished run found by the next one

def summary(dest):
    """What the unfinished run in ``dest`` intended and how far it came."""
    rec = Journal(dest).load() or {}
    secs = sections(dest)
    return {'run': rec.get('run'), 'dir': dest, 'status': rec.get('status'), 'started': rec.get('started'),
            'target': rec.get('target'), 'backup': bool(rec.get('backup')),
            'containers_running_at_start': (rec.get('intent') or {}).get('running', []),
            'steps_done': ['%s %s' % (s['order'], s['action']) for s in rec.get('steps', []) if s['status'] == 'done'],
            'steps_cut': ['%s %s' % (s['order'], s['action']) for s in rec.get('steps', [])
                          if s['status'] == 'started'],
            'sections': dict((n, s.get('status')) for n, s in secs.items())}


def _plain(value):
    """A target as compared: scalars as strings (a YAML 26.1 is '26.1'), empty entries left out."""
    if isinstance(value, dict):
        return dict((str(k), _plain(v)) for k, v in value.items() if v not in (None, '', {}, []))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _shown(target):
    return json.dumps(_plain(target or {}), sort_keys=True)


def resumes(rec, secs, dest, mode):
    """Whether recover() would resume the unfinished run ``rec`` (rather than roll it back, or close it as
    abandoned or rolled back already)."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    has_backup = bool(rec.get('backup')) and os.path.isfile(os.path.join(dest, B.STATE_FILE))
    return (mode == 'resume' and rec.get('status') != 'rolling_back' and has_backup
            and changed_anything(rec, secs) and not _rolled_back(secs))


def check_resume(dest, mode, target):
    """Raise OpError, before anything changes, when ``mode`` resume would complete the unfinished run in ``dest``
    towards another target than ``target`` (this run's): that run's target is not what anyone asks for now."""
    rec = Journal(dest).load() or {}
    if not resumes(rec, dict((n, s.get('status')) for n, s in sections(dest).items()), dest, mode):
        return
    if _plain(rec.get('target') or {}) != _plain(target or {}):
        raise R.OpError(
            'mode=resume: the unfinished run %s was going to %s, this run asks for %s; resuming would take the host '
            'to a target nobody asks for now. Nothing was changed. Roll that run back (upgrade_unfinished: rollback) '
            'and run again, or resume it with its own target (upgrade_target: %s)' % (
                rec.get('run'), _shown(rec.get('target')), _shown(target), _shown(rec.get('target'))))


def _rolled_back(secs):
    """The rollback sections (the run's own, or a recovery's) that ended on the host."""
    return [n for n, st in secs.items() if n.split('-')[0] in ('rollback', 'recover') and st == 'done']


def stopped_by_run(rec):
    """The containers the run ran at its start (its intent), then those a step noted before stopping them (an event
    ``containers_stopped``: the containerd step whose containerd restart restarts dockerd), each name once."""
    names = list((rec.get('intent') or {}).get('running', []))
    for ev in rec.get('events') or []:
        if ev.get('what') == 'containers_stopped':
            names += [n for n in ev.get('containers') or [] if n not in names]
    return names


def _start_ran(rec, timeout):
    """Start the containers that ran at the run's start, or that a step stopped, and do not run now, when dockerd
    answers; their names."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
    docker = D.Daemon('docker.service')
    return D.start_containers(docker, stopped_by_run(rec), timeout).get('started', []) if docker.version() \
        else []


def resume_holds(rec, hold):
    """The holds a resumed run starts from: as the last step that ended left them, with the packages of each step
    that was cut held (``hold``) or released, as that step would have left them. The resumed run plans again from
    the host: a package the cut dpkg (or the recovery's dpkg --configure -a) finished is at its target, and no
    step of the new plan would hold it."""
    ended = [s for s in rec.get('steps', []) if s.get('status') == 'done' and 'holds' in s]
    held = set(ended[-1]['holds'] if ended else (rec.get('intent') or {}).get('holds') or [])
    plan = dict(((s.get('order'), s.get('action')), s) for s in rec.get('plan') or [])
    for step in rec.get('steps', []):
        if step.get('status') != 'started':
            continue
        pkgs = set(step.get('packages') or (plan.get((step.get('order'), step.get('action'))) or {}).get(
            'packages') or {})
        held = held | pkgs if hold else held - pkgs
    return sorted(held)


def recover(dest, mode, managed, timeout, by, target=None, hold=True):
    """Bring the host out of the unfinished run in ``dest``: wait for a section it left running, finish an
    interrupted dpkg, then - when it changed anything - roll back to its backup (``mode`` rollback, or a run that
    was rolling back already) or make it ready to resume (``mode`` resume: the containers it stopped started, its
    holds as its steps would have left them, ``hold`` as this run holds). Resume is refused, before any change, when
    ``target`` (this run's) is not the run's target (check_resume). A run that changed nothing is closed as
    abandoned. Returns what was found and done."""
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
    from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _backup as B
    journal = Journal(dest)
    wait_running_sections(dest, timeout * 4)
    found = summary(dest)
    rec = journal.load()
    if target is not None:
        check_resume(dest, mode, target)
    report = {'found': found, 'mode': mode}
    report['policy_rc_removed'] = A.leftover_policy()
    report['dpkg_interrupted'] = A.dpkg_repair(timeout * 3)
    has_backup = bool(rec.get('backup')) and os.path.isfile(os.path.join(dest, B.STATE_FILE))
    if not changed_anything(rec, found['sections']) or not has_backup:
        # cut before its first change: nothing to undo; what ran still runs (started again if not)
        report.update(action='nothing_to_undo', containers_started=_start_ran(rec, timeout))
        journal.finish('abandoned', recovered_by=by, recovery=report)
        return report
    rolled = _rolled_back(found['sections'])
    if rolled:
        # the run's own rollback ended on the host after its controller died: the host is at its start already
        report.update(action='rolled_back', rollback={'section': rolled[-1], 'ended_before': True},
                      containers_started=_start_ran(rec, timeout))
        journal.finish('recovered', recovered_by=by, recovery=report)
        return report
    if not resumes(rec, found['sections'], dest, mode):
        journal.update(status='rolling_back')
        result = run_section(dest, 'recover-rollback', 'rollback',
                             {'dest': dest, 'managed': managed, 'timeout': timeout}, timeout * 6)
        report.update(action='rolled_back', rollback=result)
        journal.finish('recovered', recovered_by=by, recovery=report)
        return report
    report.update(action='resumed', containers_started=_start_ran(rec, timeout),
                  holds=B.restore_holds(resume_holds(rec, hold), managed))
    journal.event('resumed', by=by, recovery=report)
    return report
