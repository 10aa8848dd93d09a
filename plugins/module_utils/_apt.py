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

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _run as R
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    PACKAGE_FAMILIES,
    PACKAGE_FAMILY_TRAITS,
    on_line,
)

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


def installed_packages(names=None):
    """{package: version} of the installed packages (all, or those in ``names``)."""
    out = R.run(['dpkg-query', '-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n'], check=False).stdout
    pkgs = {}
    for line in out.splitlines():
        name, version, status = (line.split('\t') + ['', ''])[:3]
        if status[1:2] == 'i' and (names is None or name in names):
            pkgs[name] = version
    return pkgs


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


# ---------------------------------------------------------------------------------------------------------------
# Each step of a plan resolved to real package versions

def resolve_steps(steps, names, offered, extra=None, allow_skip=False, required=()):
    """The plan's ``steps`` with ``packages`` (name -> version the source offers) and ``skip`` filled in, and the
    blockers: a line or package the source (``offered``, apt-cache madison per package) lacks. ``required`` names the
    packages that must move with the engine (its CLI, Docker's rootless extras: see moving_with_engine): a source
    that offers the engine without one of them is a blocker too, never half a family."""
    extra = extra or {}
    out, blockers = [], []
    hops = [s for s in steps if s['action'] == 'upgrade_containerd']
    skipped = set()
    for step in steps:
        step = dict(step, packages={}, skip=False)
        if step['action'] == 'upgrade_containerd':
            last = step['order'] == hops[-1]['order']
            match = [v for v in offered.get(names['containerd'], []) if on_line(v, step['to'])]
            if match:
                step['packages'] = {names['containerd']: match[0]}
            elif not last and allow_skip:
                step['skip'] = True
                step['skip_reason'] = ('the apt source has no containerd %s; skipped because '
                                       'upgrade_containerd_allow_line_skip is true' % step['to'])
                skipped.add(step['to'])
            else:
                have = ', '.join(offered.get(names['containerd'], [])) or 'none'
                blockers.append({
                    'id': 'apt-source-lacks-containerd' if last else 'apt-source-lacks-containerd-line',
                    'message': 'the apt source offers no containerd %s (it has %s)' % (step['to'], have),
                    'remedy': 'add a source that serves it or change upgrade_target.containerd' if last else (
                        'add a source that serves containerd %s, or set upgrade_containerd_allow_line_skip: true to go '
                        'from %s directly to the next line (containerd supports upgrades from the previous minor only)'
                        % (step['to'], step['from']))})
        elif step['action'] == 'restart_containerd' and step['to'] in skipped:
            step['skip'] = True
            step['skip_reason'] = 'its upgrade step was skipped'
        elif step['action'] == 'upgrade_engine':
            # the engine, its CLI when the source offers it (required or not), the packages that move with it
            for pkg in dict.fromkeys(p for p in [names.get('engine'), names.get('cli'), *required] if p):
                match = [v for v in offered.get(pkg, []) if on_line(v, step['to'])]
                if match:
                    step['packages'][pkg] = match[0]
                elif pkg == names.get('engine'):
                    blockers.append({'id': 'apt-source-lacks-engine',
                                     'message': 'the apt source offers no %s %s (it has %s)' % (
                                         pkg, step['to'], ', '.join(offered.get(pkg, [])) or 'none'),
                                     'remedy': 'add a source that serves it or change upgrade_target.engine'})
                elif pkg in required:
                    blockers.append({'id': 'apt-source-lacks-package',
                                     'message': 'the apt source offers %s %s but no %s %s, which moves with it (it has '
                                                '%s)' % (names['engine'], step['to'], pkg, step['to'],
                                                         ', '.join(offered.get(pkg, [])) or 'none'),
                                     'remedy': 'add a source that serves the whole family (%s) or change '
                                               'upgrade_target.engine' % ', '.join(
                                                   dict.fromkeys([names['engine']] + list(required)))})
            for pkg, version in sorted(extra.items()):
                have = offered.get(pkg, [])
                pick = version if version in have else (have[0] if have and not version else None)
                if pick is None:
                    blockers.append({'id': 'apt-source-lacks-package',
                                     'message': 'the apt source offers no %s %s (it has %s)' % (
                                         pkg, version or '(any version)', ', '.join(have) or 'none'),
                                     'remedy': 'fix upgrade_extra_packages or the apt source'})
                else:
                    step['packages'][pkg] = pick
        out.append(step)
    return out, blockers


def moving_with_engine(family, installed):
    """The packages of FAMILY that must move in the engine's apt step on a host with INSTALLED ({name: version}):
    the CLI where the family's engine depends on it (docker-ce) or where it is installed (Debian's docker-cli, split
    from docker.io in 26.x), and Docker's rootless extras, which carry the engine's version, when installed."""
    names, traits = PACKAGE_FAMILIES[family], PACKAGE_FAMILY_TRAITS[family]
    out = []
    if traits['cli_moves_with_engine'] or names['cli'] in installed:
        out.append(names['cli'])
    if traits['rootless_moves_with_engine'] and names['rootless'] in installed:
        out.append(names['rootless'])
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


def simulate_steps(state, steps, installed, simulate=None):
    """apt's answer, before anything changes, to each install step of a resolved plan: step k is simulated with
    the packages of steps 1..k (a later version of a package replacing an earlier one), so that it is asked
    about the host as the steps before it leave it. Returns the blockers: the first step apt cannot make, naming
    the packages in the way (a step after it cannot be judged)."""
    simulate = simulate or (lambda argv: R.run(argv, check=False, env=apt_env()))
    pins = {}
    for step in steps:
        if step.get('skip') or not step.get('packages'):
            continue
        pins.update(step['packages'])
        moves = todo(pins, installed)
        if not moves:
            continue
        res = simulate(simulate_argv(state, moves))
        ok, problems, _actions = parse_simulation(res.returncode, res.stdout, res.stderr)
        if ok:
            continue
        names = in_the_way(problems)
        return [{
            'id': 'apt-cannot-make-step',
            'message': 'apt cannot make step %s (%s %s -> %s: %s): %s' % (
                step['order'], step['action'], step['component'], step['to'], ', '.join(moves),
                '; '.join(problems) or (res.stderr or res.stdout).strip()[-300:]),
            'remedy': ('name the packages in the way (%s) in upgrade_extra_packages with the versions the step '
                       'needs, or move them by hand first; apt was only asked (apt-get --simulate), nothing '
                       'changed' % (', '.join(names) or 'see the message')),
            'packages': names,
            'step': step['order'],
        }]
    return []


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
