# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# apt with a private state: the host's sources plus the role's source in a folder of their own (lists kept
# apart from the host's), so that resolving or simulating a step never edits the host's apt configuration.
# Also the installed packages and holds as dpkg sees them, and package installs with daemons kept from
# restarting (the roles restart explicitly).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import glob
import os
import re
import shutil
import time

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import step_packages, switch_packages

POLICY_RC = '/usr/sbin/policy-rc.d'


def apt_opts(state):
    """apt options that read sources and lists from the private state folder ``state`` ('' = the host's own)."""
    if not state:
        return []
    return ['-o', 'Dir::Etc::SourceList=%s/sources.list' % state,
            '-o', 'Dir::Etc::SourceParts=%s/sources.list.d' % state,
            '-o', 'Dir::State::Lists=%s/lists' % state,
            '-o', 'Dir::Cache::pkgcache=', '-o', 'Dir::Cache::srcpkgcache=']


def apt_env():
    return dict(os.environ, DEBIAN_FRONTEND='noninteractive', LC_ALL='C')


def setup(source, state):
    """The private state: the host's sources copied, ``source`` (one or more lines) added, lists updated."""
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
    R.run(['apt-get', *apt_opts(state), '-qq', 'update'], env=apt_env())


def parse_madison(text, names):
    """`apt-cache madison` output -> {package: [versions, newest first (apt's order)]} for ``names``."""
    found = dict((n, []) for n in names)
    for line in (text or '').splitlines():
        parts = [p.strip() for p in line.split('|')]
        if len(parts) >= 3 and parts[0] in found and parts[1] not in found[parts[0]]:
            found[parts[0]].append(parts[1])
    return found


def madison(state, names):
    return parse_madison(R.run(['apt-cache', *apt_opts(state), 'madison', *names], check=False).stdout, names)


def parse_dpkg_status(text):
    """`dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'` -> {package: (version, status)}, status
    the two letters desired + current state (``ii`` installed, ``iH`` half-installed, ``iU`` unpacked, ``iF``
    half-configured, ``hi`` held and installed, ``rc`` only its configuration left)."""
    pkgs = {}
    for line in (text or '').splitlines():
        name, version, status = (line.split('\t') + ['', ''])[:3]
        if name:
            pkgs[name] = (version, status.strip()[:2])
    return pkgs


def on_disk(status):
    """Whether a package in dpkg state ``status`` has its files on the host: installed, or left half-installed,
    unpacked, half-configured or awaiting triggers by a dpkg that was cut. Such a package can be held (and must be,
    when its step holds it: the step that finishes it lifts the hold in its way and holds it again); one that is
    not installed or only left its configuration cannot."""
    return status[1:2] not in ('', 'n', 'c')


def dpkg_status(names=None):
    """{package: (version, status)} as dpkg sees them (all, or those in ``names``)."""
    out = R.run(['dpkg-query', '-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n'], check=False).stdout
    return dict((k, v) for k, v in parse_dpkg_status(out).items() if names is None or k in names)


def installed_packages(names=None):
    """{package: version} of the fully installed packages (all, or those in ``names``)."""
    return dict((k, version) for k, (version, status) in dpkg_status(names).items() if status[1:2] == 'i')


def holds():
    return sorted(R.run(['apt-mark', 'showhold'], check=False).stdout.split())


class NoDaemonRestarts(object):
    """A policy-rc.d that refuses every action while packages unpack: the caller restarts explicitly."""

    def __enter__(self):
        self.saved = None
        if os.path.exists(POLICY_RC):
            with open(POLICY_RC) as fh:
                self.saved = fh.read()
        with open(POLICY_RC, 'w') as fh:
            fh.write('#!/bin/sh\n# fleetsafe: restarts are explicit\nexit 101\n')
        os.chmod(POLICY_RC, 0o755)  # noqa: S103 - policy-rc.d must be executable by invoke-rc.d
        return self

    def __exit__(self, *exc):
        if self.saved is None:
            os.unlink(POLICY_RC)
        else:
            with open(POLICY_RC, 'w') as fh:
                fh.write(self.saved)


def leftover_policy():
    """Remove a policy-rc.d that NoDaemonRestarts wrote and a dead run never took back; True when removed."""
    if not os.path.exists(POLICY_RC):
        return False
    with open(POLICY_RC) as fh:
        if '# fleetsafe: restarts are explicit' not in fh.read():
            return False
    os.unlink(POLICY_RC)
    return True


def dpkg_audit():
    """The packages dpkg left half done (`dpkg --audit`), one line each; [] when none."""
    out = R.run(['dpkg', '--audit'], check=False).stdout
    return [ln.strip() for ln in out.splitlines() if ln.startswith(' ')]


def dpkg_repair(timeout=300):
    """Finish what an interrupted dpkg left (`dpkg --configure -a`, no daemon restarted by it), after waiting for
    a dpkg still running (a dead run's apt may go on). Returns the packages dpkg --audit named before."""
    end = R.now() + timeout
    left = dpkg_audit()
    while True:
        with NoDaemonRestarts():
            res = R.run(['dpkg', '--force-confold', '--configure', '-a'], check=False, env=apt_env())
        if res.returncode == 0:
            return left
        if 'lock' not in (res.stderr or '') or R.now() > end:
            raise R.OpError('dpkg --configure -a failed: %s' % (res.stderr or res.stdout).strip()[-1500:])
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------------------------
# Each install step of a plan with the packages it installs (the rule upgrade_plan uses: _parse.step_packages)

def install_steps(steps, names, offered, extra=None, moving=(), switch=None):
    """The plan's upgrade_containerd, upgrade_engine and switch_family steps as the plan with the source's offer runs
    them, each with ``packages`` (a switch_family step with ``switch``'s packages and the ``remove`` it makes, see
    family_switch): an intermediate containerd line the source lacks is left out (the plan goes to the next line
    directly). ``moving``: the packages that move with the engine on this host (_parse.moving_with_engine). None
    when a step lacks a package (the filters' apt_source_lacks_* blockers say which): nothing to
    simulate then."""
    hops = [s for s in steps if s['action'] == 'upgrade_containerd']
    out = []
    for step in steps:
        if step['action'] == 'switch_family' and switch is not None:
            if switch['lacking']:
                return None
            out.append(dict(step, packages=switch['packages'], remove=switch['remove']))
            continue
        if step['action'] not in ('upgrade_containerd', 'upgrade_engine'):
            continue
        packages, lacking = step_packages(step['action'], step['to'], names, offered, extra, moving)
        if lacking and step['action'] == 'upgrade_containerd' and step is not hops[-1]:
            continue
        if lacking:
            return None
        out.append(dict(step, packages=packages))
    return out


# ---------------------------------------------------------------------------------------------------------------
# apt's own answer to a step's transaction, before anything changes

_BROKEN_RE = re.compile(r'^\s*(\S+)\s*:\s*(Breaks|Depends|Conflicts|PreDepends|Pre-Depends):\s*(.+)$')


def simulate_argv(state, todo):
    """apt-get --simulate of an install of ``todo`` (['name=version', 'name']) with the private state, holds
    aside: the same question the roles' package step asks apt before it installs."""
    return (['apt-get', *apt_opts(state), '--simulate', '-q', '-o', 'APT::Ignore-Hold=true',
             '-o', 'Debug::NoLocking=true', '--allow-downgrades', '--no-install-recommends', 'install'] + list(todo))


def todo(pins, installed):
    """What an install of ``pins`` (name -> version, '' = any) moves: 'name=version' for a version other than
    the installed one, 'name' for a package that is not installed (the roles' package step's rule)."""
    out = []
    for name, version in sorted(pins.items()):
        have = installed.get(name)
        if (not version and have is None) or (version and have != version):
            out.append('%s=%s' % (name, version) if version else name)
    return out


def in_the_way(problems):
    """The package names a simulation's problem lines name ('tini-static: Breaks: tini (< 0.19.0-5) ...' ->
    tini-static, tini)."""
    names = []
    for line in problems:
        parts = line.split(': ', 2)
        if len(parts) == 3:
            for name in (parts[0].strip(), parts[2].split()[0] if parts[2].split() else ''):
                if name and re.match(r'^[a-z0-9][a-z0-9+.-]+$', name) and name not in names:
                    names.append(name)
    return names


def simulate_steps(state, steps, installed, simulate=None, plans=None):
    """apt's answer, before anything changes, to each install step (install_steps): step k is simulated with the
    packages of steps 1..k (a later version of a package replacing an earlier one), so that it is asked about the
    host as the steps before it leave it. Returns None when apt can make every step, else the first step it cannot
    make: {action, component, from, to, moves, problems, in_the_way, output} (a step after it cannot be judged).
    ``plans`` (a dict), when given, gets apt's plan of each step it can make by the step's order (plan_lines).
    A step's ``remove`` (a family switch) is asked as removals ('docker.io-'): never a purge."""
    simulate = simulate or (lambda argv: R.run(argv, check=False, env=apt_env()))
    pins, removed = {}, []
    for step in steps:
        pins.update(step['packages'])
        removed += [name for name in step.get('remove') or [] if name in installed and name not in removed]
        moves = todo(pins, installed) + ['%s-' % name for name in removed]
        if not moves:
            continue
        res = simulate(simulate_argv(state, moves))
        ok, problems, actions = parse_simulation(res.returncode, res.stdout, res.stderr)
        if ok:
            if plans is not None:
                plans[step['order']] = plan_lines(actions)
            continue
        return {'action': step['action'], 'component': step['component'], 'from': step.get('from'),
                'to': step['to'], 'moves': moves, 'problems': problems, 'in_the_way': in_the_way(problems),
                'output': (res.stderr or res.stdout or '').strip()[-300:]}
    return None


_INST = re.compile(r'^Inst (\S+) \[(\S+)\] \((\S+) ')
_NEW = re.compile(r'^Inst (\S+) \((\S+) ')
_REMV = re.compile(r'^Remv (\S+)(?: \[(\S+)\])?')


def plan_lines(actions):
    """apt-get -s's Inst/Remv lines as 'name old -> new', 'name (new) version', 'name old removed'."""
    out = []
    for line in actions:
        m = _INST.match(line)
        if m:
            out.append('%s %s -> %s' % m.groups())
            continue
        m = _NEW.match(line)
        if m:
            out.append('%s (new) %s' % m.groups())
            continue
        m = _REMV.match(line)
        if m:
            out.append('%s %s removed' % m.groups() if m.group(2) else '%s removed' % m.group(1))
    return out


def family_switch(step, offered, installed, extra=None):
    """A switch_family step's transaction with the source's offer: {from, to, packages, remove, lacking} (the one rule:
    _parse.switch_packages), lacking as [package, wanted] pairs."""
    packages, remove, lacking = switch_packages(step['from'], step['to'], step['engine'], step['containerd'], offered,
                                                installed, extra)
    return {'from': step['from'], 'to': step['to'], 'packages': packages, 'remove': remove,
            'lacking': [list(pair) for pair in lacking], 'plan': []}


def parse_simulation(rc, stdout, stderr):
    """(ok, problems, actions) from apt-get -s: ``problems`` the lines naming the packages in the way
    ('docker.io : Depends: tini but it is not going to be installed'), ``actions`` the Inst/Remv lines."""
    actions = [ln.strip() for ln in (stdout or '').splitlines() if ln.startswith(('Inst ', 'Remv ', 'Conf '))]
    problems = []
    for ln in (stdout or '').splitlines() + (stderr or '').splitlines():
        m = _BROKEN_RE.match(ln)
        if m:
            problems.append('%s: %s: %s' % (m.group(1), m.group(2), m.group(3).strip()))
        elif ln.startswith('E:') and 'Unable to correct problems' not in ln:
            problems.append(ln[2:].strip())
    # a continuation line ("                  Depends: x") belongs to the package named above it
    last = None
    merged = []
    for ln in (stdout or '').splitlines():
        m = _BROKEN_RE.match(ln)
        if m:
            last = m.group(1)
        elif last and re.match(r'^\s{6,}(Breaks|Depends|Conflicts|PreDepends|Pre-Depends):', ln):
            kind, _sep, what = ln.strip().partition(':')
            merged.append('%s: %s: %s' % (last, kind, what.strip()))
        elif ln.strip():
            last = None
    problems += merged
    return rc == 0 and not problems, problems, actions
