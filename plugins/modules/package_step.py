#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_step
short_description: One apt step of exact package versions, holds lifted and restored, nothing left behind on failure
version_added: 0.3.0
description:
  - Installs exact package versions (upgrades and downgrades) in one module run, the step the C(containerd) and
    C(docker_engine) roles make. It reads dpkg's database once, works out which of O(pins) must move, writes the apt
    source O(source) when the host's sources do not have that line already, refreshes the package lists, asks apt
    what the change involves with the holds set aside (C(apt-get --simulate)), and refuses a change apt cannot make
    before anything changed, naming apt's own reason.
  - Lifts exactly the holds in the way of the change, installs, holds them again (those the change removed, such
    as C(tini) replaced by C(tini-static), are returned as RV(holds_dropped)), then holds the pinned packages
    (O(hold)) or releases them.
  - With O(stop_containers) the Docker engine's running containers are stopped, all at once while the API
    answers, once apt agreed and every package is fetched (a slow mirror adds nothing to their downtime) and
    before the install; they are returned for the caller to start again after its
    restart, and started again here when the install fails.
  - With O(stop_containers_if_engine_follows) they are stopped the same way when the engine's C(docker.service)
    restarts with C(containerd.service) (C(Requires=), C(BindsTo=) or C(PartOf=) on it, as systemd has the unit loaded,
    as in Docker's 20.10 unit). The containerd package's postinst restarts containerd, systemd restarts dockerd with
    it, and dockerd would otherwise kill them after their stop timeout on its way down. RV(engine_follows_containerd)
    says what systemd showed (in check mode too), RV(engine_restarted) whether dockerd's main process changed across
    the install.
  - With O(journal) (an upgrade run's folder) the containers are written to the run's journal (an event
    C(containers_stopped)) before they are stopped, so that a run that finishes what a dead controller left starts
    them again.
  - On any failure the holds and the apt source are put back as they were. O(source_keep=false) removes the source
    after a successful step too (the host's sources as they were).
  - In check mode nothing is written; the change is simulated with the package lists as they are (when the host
    has the source already) or only listed.
author:
  - fleetsafe developers (@fleetsafe)
options:
  pins:
    description: Package name -> exact Debian package version; V('') installs any version when it is missing.
    type: dict
    required: true
  source:
    description: One apt source line to install from (an internal mirror); V('') keeps the host's own sources.
    type: str
    default: ''
  source_file:
    description: The file under C(/etc/apt/sources.list.d/) (without C(.list)) that holds O(source).
    type: str
    default: fleetsafe-packages
  source_keep:
    description: Keep the source file after a successful step; V(false) puts the host's apt sources back as they were.
    type: bool
    default: true
  hold:
    description: Hold the pinned packages afterwards (V(false) releases the holds on them).
    type: bool
    default: true
  remove:
    description:
      - Packages removed in the same apt transaction when installed (a switch of package families removes the old
        family's). Removed, never purged - configuration files and data folders stay.
      - A file a removed package's maintainer script leaves behind to act at a later purge (Debian's docker.io copies
        C(nuke-graph-directory.sh) into C(/var/lib/docker), which its postrm runs on C(/var/lib/docker) at purge) is
        removed again after the step, so that purging the old package later cannot delete the new engine's data.
    type: list
    elements: str
    default: []
  stop_containers:
    description:
      - Stop the Docker engine's running containers once apt agreed and every package is fetched
        (C(apt-get install --download-only)), before the install.
    type: bool
    default: false
  stop_containers_if_engine_follows:
    description:
      - Stop them (as O(stop_containers)) when C(docker.service) restarts with C(containerd.service) (Requires=,
        BindsTo= or PartOf= on it, read from C(systemctl show) before the install); the containerd step's setting.
    type: bool
    default: false
  journal:
    description:
      - An upgrade run's folder (RV(fleetsafe.container_engine.upgrade_journal#module:dir)); the containers to stop
        are noted in its journal before they are stopped.
    type: path
  daemon:
    description:
      - Look at this daemon once the step is done (in check mode, as it is), as
        M(fleetsafe.container_engine.daemon_state) does, and return what it shows as RV(daemon) - the look a role
        takes after its packages, without a module run of its own. dpkg has returned by then, so a restart its
        maintainer scripts made (synchronous) is over.
    type: str
    choices: [containerd, docker]
  daemon_package:
    description: With O(daemon), the package whose installed version the daemon is compared with.
    type: str
  who:
    description: The name the messages start with (the role that makes the step).
    type: str
    default: package_step
  timeout:
    description: Seconds a container stop may take beyond its own stop timeout.
    type: int
    default: 60
notes:
  - Needs C(apt-get), C(apt-mark) and C(dpkg-query) (Debian and Ubuntu hosts).
"""

EXAMPLES = r"""
- name: Move containerd to the trixie release, holding it afterwards
  fleetsafe.container_engine.package_step:
    pins: {containerd: 1.7.24~ds1-6+deb13u1}
    source: deb [signed-by=/etc/apt/keyrings/mirror.gpg] https://mirror.internal/debian trixie main
    source_file: fleetsafe-containerd
    who: containerd
  register: step
"""

RETURN = r"""
changed:
  description: Whether a package moved (or, in check mode, would move), or a hold changed.
  type: bool
  returned: always
moved:
  description: Whether a package moved (or, in check mode, would move).
  type: bool
  returned: always
todo:
  description: What the install asked apt for (V(name=version), or V(name) for any version).
  type: list
  elements: str
  returned: always
  sample: [containerd=1.7.24~ds1-6+deb13u1]
plan:
  description: apt's plan, one line per package (V(name old -> new), V(name (new\) version), V(name old removed)).
  type: list
  elements: str
  returned: always
  sample: [containerd 1.6.20~ds1-1+deb12u3 -> 1.7.24~ds1-6+deb13u1]
before:
  description: The pinned packages installed before the step, name -> version.
  type: dict
  returned: always
after:
  description: The pinned packages installed after the step, name -> version (as before in check mode).
  type: dict
  returned: always
holds_lifted:
  description: The held packages in the change's way, lifted for it and held again.
  type: list
  elements: str
  returned: always
removed:
  description: The packages of O(remove) the step removed (or, in check mode, would remove).
  type: list
  elements: str
  returned: always
leftovers_removed:
  description: Files the removed packages' maintainer scripts left to act at a later purge, removed again.
  type: list
  elements: str
  returned: always
holds_dropped:
  description: Held packages the change removed (their hold is gone with them).
  type: list
  elements: str
  returned: always
containers_stopped:
  description: The containers O(stop_containers) (or O(stop_containers_if_engine_follows)) stopped, each with C(ID)
    and C(Names).
  type: list
  elements: dict
  returned: always
engine_follows_containerd:
  description:
    - With O(stop_containers_if_engine_follows) - the engine unit's dependency through which a restart of containerd
      restarts dockerd (V(Requires=containerd.service)); null when it has none (V(Wants=) only, or no engine unit).
  type: str
  returned: always
  sample: Requires=containerd.service
engine_restarted:
  description:
    - With O(stop_containers_if_engine_follows) - whether C(docker.service)'s main process changed across the install
      (systemd restarted dockerd).
  type: bool
  returned: always
source_known:
  description: Whether the host's own sources had the line O(source) already (then no file was written).
  type: bool
  returned: always
daemon:
  description:
    - With O(daemon) - the daemon as M(fleetsafe.container_engine.daemon_state) returns it, looked at once the step is
      done (active, version, upstream, binary_replaced, installed, held, stale, services, last_restart_seconds, ...).
  type: dict
  returned: success with O(daemon)
msg:
  description: What the step changes (or would), in one line, for the play's output.
  type: str
  returned: when a package moves
  sample: "containerd: changing containerd 1.6.20~ds1-1+deb12u3 -> 1.7.24~ds1-6+deb13u1"
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _apt as A
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _daemon as D
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _journal as J
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    LEFT_FOR_PURGE,
    engine_follows_unit,
    shown,
    unit_dependencies_argv,
)

NAME_RE = re.compile(r'^[a-z0-9][a-z0-9+.-]+$')
VERSION_RE = re.compile(r'^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$')
FILE_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


def bad_input(p):
    """Every malformed value, each named (nothing changes on the host when there is one)."""
    bad = []
    for name, version in sorted((p['pins'] or {}).items()):
        if not NAME_RE.match(str(name)):
            bad.append("package name %s is not a Debian package name" % shown(name))
        if version not in ('', None) and not VERSION_RE.match(str(version)):
            bad.append("version %s of %s is not a Debian package version" % (shown(version), name))
    for name in p.get('remove') or []:
        if not NAME_RE.match(str(name)):
            bad.append("package name %s (remove) is not a Debian package name" % shown(name))
        elif name in (p['pins'] or {}):
            bad.append("package %s is both pinned and to be removed" % name)
    if p['source'] and not re.match(r'^deb\s+\S', p['source']):
        bad.append("source %s is not an apt source line (deb [options] URI suite [components])" % shown(p['source']))
    if not FILE_RE.match(p['source_file'] or ''):
        bad.append("source_file %s is not a file name" % shown(p['source_file']))
    return bad


# the one install command of a step (its packages fetched first with --download-only when containers stop for it)
INSTALL_ARGV = ['apt-get', 'install', '-y', '-q', '--allow-downgrades', '--no-install-recommends',
                '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold']


def moved_names(actions):
    return [line.split()[1] for line in actions if line.startswith(('Inst ', 'Remv '))]


def source_known(line):
    """Whether one of the host's *.list source files has ``line`` already."""
    files = ['/etc/apt/sources.list'] + sorted(
        os.path.join('/etc/apt/sources.list.d', f) for f in os.listdir('/etc/apt/sources.list.d')
        if f.endswith('.list')) if os.path.isdir('/etc/apt/sources.list.d') else ['/etc/apt/sources.list']
    for path in files:
        try:
            with open(path) as fh:
                if any(ln.rstrip('\n') == line for ln in fh):
                    return True
        except OSError:
            continue
    return False


class Source(object):
    """The step's apt source file: written when needed, put back as it was."""

    def __init__(self, line, name):
        self.line, self.path = line, '/etc/apt/sources.list.d/%s.list' % name
        self.known = not line or source_known(line)
        self.old = None
        self.written = False

    def write(self):
        if self.known:
            return
        if os.path.exists(self.path):
            with open(self.path) as fh:
                self.old = fh.read()
        with open(self.path, 'w') as fh:
            fh.write(self.line + '\n')
        os.chmod(self.path, 0o644)
        self.written = True

    def restore(self):
        """Best effort: the step failed already (or is done) and says so; stale lists only cost a later update."""
        if not self.written:
            return
        if self.old is None:
            os.unlink(self.path)
        else:
            with open(self.path, 'w') as fh:
                fh.write(self.old)
        self.written = False
        R.run(['apt-get', '-qq', 'update'], check=False, env=A.apt_env())


def dpkg_state():
    """({name: version} installed, [held names]) from one dpkg-query (the one reader, _apt.dpkg_status)."""
    status = A.dpkg_status()
    installed = dict((name, version) for name, (version, st) in status.items() if st[1:2] == 'i')
    return installed, [name for name, (_version, st) in status.items() if st.startswith('h')]


def engine_follows():
    """The engine unit's dependency through which a containerd restart restarts dockerd ('Requires=containerd.service'),
    or None (Wants= only, no unit, no systemd): engine_follows_unit, the one rule the facts use too."""
    res = R.run(unit_dependencies_argv('docker.service'), check=False)
    follows = engine_follows_unit(res.stdout) if res.returncode == 0 else None
    return follows['dependency'] if follows and follows['restarts_with'] else None


def engine_pid():
    """docker.service's main process as systemd has it ('0' when it does not run or systemd cannot say)."""
    return D.Daemon('docker.service').show().get('MainPID') or '0'


def mark(action, names):
    if names:
        R.run(['apt-mark', action] + sorted(names))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pins=dict(type='dict', required=True),
            remove=dict(type='list', elements='str', default=[]),
            source=dict(type='str', default=''),
            source_file=dict(type='str', default='fleetsafe-packages'),
            source_keep=dict(type='bool', default=True),
            hold=dict(type='bool', default=True),
            stop_containers=dict(type='bool', default=False),
            stop_containers_if_engine_follows=dict(type='bool', default=False),
            journal=dict(type='path'),
            daemon=dict(type='str', choices=['containerd', 'docker']),
            daemon_package=dict(type='str'),
            who=dict(type='str', default='package_step'),
            timeout=dict(type='int', default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params

    def finish(out):
        if p['daemon']:
            out['daemon'] = D.daemon_state(p['daemon'], p['daemon_package'])
        module.exit_json(**out)

    who = p['who']
    p['source'] = (p['source'] or '').strip()
    bad = bad_input(p)
    if bad:
        module.fail_json(msg='%s: %s. Nothing was changed.' % (who, '; '.join(bad)), changed=False)
    pins = dict((k, '' if v is None else str(v)) for k, v in p['pins'].items())
    installed, held = dpkg_state()
    # in the order given (the messages name the packages as the caller listed them)
    todo = [move for name in pins for move in A.todo({name: pins[name]}, installed)]
    removed = [name for name in p['remove'] if name in installed]
    todo += ['%s-' % name for name in removed]
    before = dict((k, v) for k, v in installed.items() if k in pins or k in removed)
    out = dict(changed=False, moved=False, todo=todo, plan=[], before=before, after=dict(before), holds_lifted=[],
               holds_dropped=[], containers_stopped=[], source_known=True, removed=removed, leftovers_removed=[],
               engine_follows_containerd=None, engine_restarted=False)
    if p['stop_containers_if_engine_follows']:
        out['engine_follows_containerd'] = engine_follows()
    stop_containers = p['stop_containers'] or bool(out['engine_follows_containerd'])
    leftovers = [path for name in removed for path in LEFT_FOR_PURGE.get(name, ()) if not os.path.lexists(path)]
    source = Source(p['source'], p['source_file'])
    out['source_known'] = source.known
    if todo:
        out['moved'] = out['changed'] = True
        if module.check_mode and not source.known:
            out['plan'] = todo
            out['msg'] = ("%s: would add the apt source '%s' and install %s (installed now: %s)" % (
                who, p['source'], ', '.join(todo), ', '.join('%s %s' % kv for kv in sorted(before.items()))
                or 'none of them'))
            finish(out)
        try:
            if not module.check_mode:
                source.write()
                upd = R.run(['apt-get', '-q', 'update'], check=False, env=A.apt_env())
                errors = [ln for ln in (upd.stdout + upd.stderr).splitlines() if ln.startswith('E:')]
                if upd.returncode:
                    raise R.OpError('the package lists cannot be refreshed: %s' % (
                        ' '.join(errors) or (upd.stderr or upd.stdout).strip()[-500:]))
            sim = R.run(A.simulate_argv('', todo), check=False, env=A.apt_env())
            ok, problems, actions = A.parse_simulation(sim.returncode, sim.stdout, sim.stderr)
            if not ok:
                raise R.OpError('apt cannot install %s: %s' % (', '.join(todo), ' '.join(
                    [ln for ln in sim.stderr.splitlines() if ln.startswith('E:')] or problems
                    or sim.stdout.splitlines()[-3:])))
            if stop_containers and not module.check_mode:
                # every package fetched before a container stops: a slow mirror adds nothing to their downtime
                # (the holds in the way are lifted only for the install: a download changes no package)
                dl = R.run(INSTALL_ARGV + ['--download-only', '--allow-change-held-packages'] + todo, check=False,
                           env=A.apt_env())
                if dl.returncode:
                    raise R.OpError('fetching %s failed, before any container stopped: %s' % (', '.join(todo), (
                        dl.stderr or dl.stdout).strip()[-1500:]))
        except (R.OpError, OSError) as exc:
            source.restore()
            module.fail_json(msg='%s: %s. %s' % (who, exc, (
                'With the package lists as they are; a real run refreshes them first.' if module.check_mode
                else 'Nothing was changed: the packages, the holds and the apt sources are as they were.')),
                changed=False, todo=todo, before=before)
        out['plan'] = A.plan_lines(actions)
        out['holds_lifted'] = [n for n in moved_names(actions) if n in held]
        out['msg'] = '%s: %s %s%s' % (who, 'would change' if module.check_mode else 'changing',
                                      '; '.join(out['plan'] or todo), '; lifting the holds on %s' % ', '.join(
                                          out['holds_lifted']) if out['holds_lifted'] else '')
        if module.check_mode:
            finish(out)
        stopped = []
        pid_before = engine_pid() if p['stop_containers_if_engine_follows'] else '0'
        try:
            if stop_containers:
                engine = D.Daemon('docker.service')
                if engine.version() is not None:
                    running = [c for c in engine.containers(strict=True) if c['running']]
                    if running and p['journal']:
                        # written before they stop: a run that finishes what a dead controller left starts them
                        J.Journal(p['journal']).event(
                            'containers_stopped', by=who, containers=[c['name'] for c in running],
                            why=('docker.service %s: systemd restarts dockerd with containerd' % out[
                                'engine_follows_containerd']) if out['engine_follows_containerd'] else who)
                    refused = engine.act([c['id'] for c in running], 'stop', p['timeout'] + 30)
                    stopped = [c for c in running if c['id'] not in refused]
                    out['containers_stopped'] = [{'ID': c['id'], 'Names': c['name']} for c in stopped]
                    if refused:
                        raise R.OpError('docker stop failed: %s' % refused)
            mark('unhold', out['holds_lifted'])
            res = R.run(INSTALL_ARGV + todo, check=False, env=A.apt_env())
            if res.returncode:
                raise R.OpError('installing %s failed part-way: %s' % (', '.join(todo), (
                    res.stderr or res.stdout).strip()[-1500:]))
        except (R.OpError, OSError) as exc:
            installed, held = dpkg_state()
            try:
                mark('hold', [n for n in out['holds_lifted'] if n in installed and n not in held])
                source.restore()
                if stopped:
                    D.start_containers(D.Daemon('docker.service'), [c['name'] for c in stopped], p['timeout'])
            except (R.OpError, OSError) as again:
                exc = '%s (and putting things back failed: %s)' % (exc, again)
            module.fail_json(msg='%s: %s. The holds%s are as they were; dpkg -l shows where the packages were left.' % (
                who, exc, ' and the apt source' if not source.known else ''), changed=True, **dict(
                    (k, v) for k, v in out.items() if k not in ('changed', 'msg')))
        out['engine_restarted'] = pid_before not in ('', '0') and engine_pid() != pid_before
        installed, held = dpkg_state()
        mark('hold', [n for n in out['holds_lifted'] if n in installed and n not in held])
        held = held + [n for n in out['holds_lifted'] if n in installed]
        for path in leftovers:
            if os.path.lexists(path):
                os.unlink(path)
                out['leftovers_removed'].append(path)
        out['holds_dropped'] = [n for n in out['holds_lifted'] if n not in installed]
        out['after'] = dict((k, v) for k, v in installed.items() if k in pins or k in removed)
    if p['hold']:
        flip = [n for n in pins if n in installed and n not in held]
    else:
        flip = [n for n in pins if n in held]
    if flip:
        out['changed'] = True
        if not module.check_mode:
            mark('hold' if p['hold'] else 'unhold', flip)
    if todo and not p['source_keep']:
        source.restore()
    finish(out)


if __name__ == '__main__':
    main()
