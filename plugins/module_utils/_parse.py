# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Pure parsers and tables for the facts modules: text in, plain data out. No I/O here, so the unit
# tests feed them responses recorded from real daemons (tests/unit/modules/fixtures/).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import re
import shlex
import struct

# Packages of both families, as dpkg knows them. Debian: docker.io (engine), docker-cli (split from
# 26.x), containerd, runc, tini. Docker Inc.'s repository: docker-ce, docker-ce-cli, containerd.io,
# docker-ce-rootless-extras. Plus the rootless helpers.
PACKAGES = (
    'docker.io', 'docker-cli', 'containerd', 'runc', 'tini', 'tini-static',
    'docker-ce', 'docker-ce-cli', 'containerd.io', 'docker-ce-rootless-extras',
    'docker-buildx-plugin', 'docker-compose-plugin',
    'rootlesskit', 'slirp4netns', 'uidmap',
)

# The package families: which package is the engine, its client and containerd (one table for every role and
# module that needs it).
PACKAGE_FAMILIES = {
    'debian': {'engine': 'docker.io', 'cli': 'docker-cli', 'containerd': 'containerd', 'rootless': 'rootlesskit'},
    'docker-ce': {'engine': 'docker-ce', 'cli': 'docker-ce-cli', 'containerd': 'containerd.io',
                  'rootless': 'docker-ce-rootless-extras'},
}

# What else differs between the families, read from their packaging (Debian's archive; Docker's
# docker-ce-packaging and containerd-packaging at the lab's tags, tests/lab/docker_ce/) and seen on the lab:
#   engine_restarted_by_package  the engine package's postinst restarts dockerd on upgrade (docker-ce's
#                                dh_installsystemd restart-after-upgrade) or only starts it (Debian's docker.io)
#   containerd_restarted_by_package  the containerd package's postinst restarts containerd (both families)
#   cli_moves_with_engine        the engine and its CLI move in one apt step (docker-ce Depends on docker-ce-cli and
#                                Replaces docker-ce-cli (<< 5:28.0.0)); Debian's docker-cli moves with docker.io when
#                                installed (split from docker.io in 26.x)
#   rootless_moves_with_engine   the rootless package carries the engine's version and moves with it
#                                (docker-ce-rootless-extras); Debian's rootlesskit is versioned on its own
#   runc_package                 the package that ships runc: Debian's runc, or containerd.io itself (Provides,
#                                Conflicts, Replaces runc)
#   units_dir                    where the packages put docker.service, docker.socket and containerd.service
#   rootless_script_dir          where dockerd-rootless.sh and dockerd-rootless-setuptool.sh are: docker.io's contrib
#                                folder (not on PATH), or /usr/bin (docker-ce-rootless-extras)
#   rootless_script_package      the package that ships them: docker.io itself, or docker-ce-rootless-extras
PACKAGE_FAMILY_TRAITS = {
    'debian': {'engine_restarted_by_package': False, 'containerd_restarted_by_package': True,
               'cli_moves_with_engine': False, 'rootless_moves_with_engine': False, 'runc_package': 'runc',
               'units_dir': '/lib/systemd/system', 'rootless_script_dir': '/usr/share/docker.io/contrib',
               'rootless_script_package': 'docker.io'},
    'docker-ce': {'engine_restarted_by_package': True, 'containerd_restarted_by_package': True,
                  'cli_moves_with_engine': True, 'rootless_moves_with_engine': True, 'runc_package': 'containerd.io',
                  'units_dir': '/lib/systemd/system', 'rootless_script_dir': '/usr/bin',
                  'rootless_script_package': 'docker-ce-rootless-extras'},
}
ROOTLESS_SCRIPT = 'dockerd-rootless.sh'


def rootless_script(argv):
    """The dockerd-rootless.sh a rootless daemon was started from, and the family whose package puts it there.

    rootlesskit's command line ends with the script it runs (dockerd-rootless.sh re-executes itself under rootlesskit
    as ``rootlesskit [OPTIONS] $0 [DOCKERD_OPTIONS]``):
    ['rootlesskit', '--net=slirp4netns', '/usr/bin/dockerd-rootless.sh', '--iptables=false']
    -> ('/usr/bin/dockerd-rootless.sh', 'docker-ce'). (None, None) without that script; (path, None) for a copy no
    package of either family ships (a static install in the user's home).
    """
    path = next((a for a in argv[1:] if os.path.basename(a) == ROOTLESS_SCRIPT), None)
    if path is None:
        return None, None
    family = next((name for name, traits in sorted(PACKAGE_FAMILY_TRAITS.items())
                   if os.path.normpath(os.path.dirname(path)) == traits['rootless_script_dir']), None)
    return path, family


# Files a package's maintainer scripts leave behind when it is removed, to act at its later purge: Debian's docker.io
# prerm copies nuke-graph-directory.sh into /var/lib/docker and its postrm runs it on /var/lib/docker at purge. After
# a switch to Docker's family that folder is docker-ce's: a purge of the old package would delete its images,
# containers and volumes. Docker's packages leave nothing of the kind (their postrm only masks the units).
LEFT_FOR_PURGE = {'docker.io': ('/var/lib/docker/nuke-graph-directory.sh',)}

DPKG_FORMAT = '${Package}\\t${db:Status-Abbrev}\\t${Version}\\n'

# How much of a value a message echoes: enough to recognise it, never a whole pasted file.
SHOWN_HEAD = 60
SHOWN_TAIL = 20
# longer than anything shown() returns, so a value it already cut is left alone
_LONG_RUN = re.compile(r'\S{121,}')


def _cut(text):
    """'head…tail (N characters)' for a text longer than SHOWN_HEAD + SHOWN_TAIL + 1, else the text."""
    if len(text) <= SHOWN_HEAD + SHOWN_TAIL + 1:
        return text, False
    return '%s\u2026%s' % (text[:SHOWN_HEAD], text[-SHOWN_TAIL:]), True


def shown(value):
    """A value as an error message echoes it: quoted, and cut in the middle when long.

    'unix:///run/x.sock' -> "'unix:///run/x.sock'"; a 5,000-character value ->
    "'unix:///aaaa…aaaa.sock' (5,000 characters)". Every module message that repeats user input uses it.
    """
    text = value if isinstance(value, str) else repr(value)
    text = text.replace('\0', '\\0')
    cut, was_cut = _cut(text)
    return "'%s'%s" % (cut, ' (%s characters)' % format(len(text), ',') if was_cut else '')


def shorten_message(msg):
    """A whole message with every long unbroken run (a value Ansible's own option checks echo in full) cut
    the way shown() cuts values, so a failed task never prints a pasted file back."""
    def cut(match):
        text, _was_cut = _cut(match.group(0))
        return '%s (%s characters)' % (text, format(len(match.group(0)), ','))
    return _LONG_RUN.sub(cut, msg) if isinstance(msg, str) else msg


_VERSION_RE = re.compile(r'^v?(\d+)\.(\d+)(?:\.(\d+))?')


def upstream_version(version):
    """'20.10.24+dfsg1' -> '20.10.24'; '2.1.9+unknown' -> '2.1.9'; '5:28.0.1-1~debian.12~bookworm' -> '28.0.1'."""
    if not version:
        return None
    text = str(version).strip()
    if ':' in text.split('-', 1)[0]:
        text = text.split(':', 1)[1]
    match = _VERSION_RE.match(text)
    if not match:
        return None
    return '%s.%s.%s' % (match.group(1), match.group(2), match.group(3) or '0')


def on_line(version, wanted):
    """Whether package or upstream ``version`` is ``wanted``: a line ('26.1') takes any release on it, a release
    ('26.1.5') only itself. '26.1.5+dfsg1-9' is on 26.1 and is 26.1.5; '26.10.1-1' is not on 26.1."""
    up = upstream_version(version)
    if up is None or not wanted:
        return False
    if str(wanted).count('.') == 1:
        return up.split('.')[:2] == str(wanted).split('.')
    return up == upstream_version(wanted)


def offered_on(versions, wanted):
    """The package ``versions`` (newest first, as apt-cache madison lists them) that are on ``wanted`` (a line or a
    release, see on_line), in the same order: the first is what a step that moves to ``wanted`` installs."""
    return [v for v in versions or [] if on_line(v, wanted)]


def pick_offered(versions, wanted):
    """The version of a further package to install: ``wanted`` when the source offers it, the newest offered when
    ``wanted`` is '' (any), else None (the source lacks it)."""
    versions = list(versions or [])
    if wanted:
        return wanted if wanted in versions else None
    return versions[0] if versions else None


def step_packages(action, to, names, offered, extra=None, moving=()):
    """What an upgrade_containerd or upgrade_engine step to ``to`` installs from an apt source: ({package: version},
    [(package, wanted)] the source lacks). ``names`` is the package family's table (engine, cli, containerd),
    ``offered`` package -> versions newest first (apt-cache madison), ``extra`` further packages the engine step
    installs, name -> version ('' = the newest offered), ``moving`` the packages that move with the engine on this
    host (moving_with_engine: Docker's CLI, the rootless extras). Each package takes the newest version on ``to``; a
    CLI the source lacks is left to apt (the engine's dependencies pull one) unless it moves with the engine: a
    source with half a family is lacking, never half a step."""
    packages, lacking = {}, []
    if action == 'upgrade_containerd':
        wanted = [names.get('containerd')]
    else:
        wanted = list(dict.fromkeys([names.get('engine'), names.get('cli')] + list(moving or ())))
    for package in wanted:
        if not package:
            continue
        found = offered_on(offered.get(package), to)
        if found:
            packages[package] = found[0]
        elif package != names.get('cli') or package in (moving or ()):
            lacking.append((package, to))
    if action == 'upgrade_engine':
        for package, wanted in sorted((extra or {}).items()):
            pick = pick_offered(offered.get(package), wanted)
            if pick is None:
                lacking.append((package, wanted or '(any version)'))
            else:
                packages[package] = pick
    return packages, lacking


def moving_with_engine(family, installed):
    """The packages of ``family`` that move in the engine's apt step on a host with ``installed`` ({name: version}):
    the CLI where the family's engine depends on it (docker-ce) or where it is installed (Debian's docker-cli, split
    from docker.io in 26.x), and Docker's rootless extras, which carry the engine's version, when installed."""
    names, traits = PACKAGE_FAMILIES[family], PACKAGE_FAMILY_TRAITS[family]
    out = []
    if traits['cli_moves_with_engine'] or names['cli'] in installed:
        out.append(names['cli'])
    if traits['rootless_moves_with_engine'] and names['rootless'] in installed:
        out.append(names['rootless'])
    return out


def family_packages(family):
    """Every package of ``family`` a switch away from it removes when installed: its engine, CLI, containerd and
    rootless packages, and runc where it is a package of its own (Debian's; Docker's containerd.io carries runc)."""
    names, traits = PACKAGE_FAMILIES[family], PACKAGE_FAMILY_TRAITS[family]
    return list(dict.fromkeys([names['engine'], names['cli'], names['containerd'], names['rootless'],
                               traits['runc_package']]))


def switch_packages(from_family, to_family, engine_to, containerd_to, offered, installed, extra=None):
    """What a switch of package families makes in one apt transaction: ({package: version} installed, [packages]
    removed, [(package, wanted)] the source lacks). The new family's containerd comes at ``containerd_to`` and its
    engine at ``engine_to`` by the steps' own rule (step_packages), with the packages that move with the engine: those
    of moving_with_engine, and the new family's CLI and rootless package where the host has the old family's (a
    rootless package versioned on its own, Debian's rootlesskit, comes as a further package at the newest version
    offered). The old family's installed packages are removed (never purged: /var/lib/docker and /var/lib/containerd
    stay)."""
    old, new = PACKAGE_FAMILIES[from_family], PACKAGE_FAMILIES[to_family]
    moving = moving_with_engine(to_family, installed)
    extra = dict(extra or {})
    if old['cli'] in installed and new['cli'] not in moving:
        moving.append(new['cli'])
    if old['rootless'] in installed and new['rootless'] not in moving:
        if PACKAGE_FAMILY_TRAITS[to_family]['rootless_moves_with_engine']:
            moving.append(new['rootless'])
        else:
            extra.setdefault(new['rootless'], '')
    packages, lacking = step_packages('upgrade_containerd', containerd_to, new, offered)
    engine, engine_lacking = step_packages('upgrade_engine', engine_to, new, offered, extra, moving)
    packages.update(engine)
    remove = [p for p in family_packages(from_family) if p in installed and p not in packages]
    return packages, remove, lacking + engine_lacking


def live_restore_covers(running, target):
    """Whether live-restore keeps containers running across a restart from dockerd ``running`` to ``target``:
    dockerd promises it across patch releases of the same line only (26.1.4 -> 26.1.5, not 26.1 -> 27.0)."""
    a, b = upstream_version(running), upstream_version(target)
    return a is not None and b is not None and a.split('.')[:2] == b.split('.')[:2]


def daemon_is_stale(running, installed, binary_replaced=False):
    """Whether a running daemon is older than its installed binary: its binary was replaced on disk, or the
    version it answers with differs from the installed package's. None when either version is unknown."""
    if binary_replaced:
        return True
    a, b = upstream_version(running), upstream_version(installed)
    if a is None or b is None:
        return None
    return a != b


def api_tuple(api):
    """'1.41' or 'v1.41' -> (1, 41); None when unparsable (the filters read API versions the same way)."""
    match = re.match(r'^[vV]?(\d+)\.(\d+)$', str(api or '').strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def parse_dpkg_query(text):
    """Output of dpkg-query -W -f DPKG_FORMAT -> {package: version} for installed packages only."""
    packages = {}
    for line in (text or '').splitlines():
        fields = line.split('\t')
        if len(fields) < 3:
            continue
        name, status, version = fields[0].strip(), fields[1].strip(), fields[2].strip()
        # db:Status-Abbrev: desired, status, error flags. Status 'i' installed, 'W'/'t' triggers
        # pending (installed); 'n' not installed, 'c' config files only.
        if len(status) >= 2 and status[1] in 'iWt' and version:
            packages[name] = version
    return packages


# The two package families and their package for each component: Debian's archive and Docker's repository.
# The one table of them (the filters' version checks in plugin_utils/_versions.py read it too).
def package_family(packages, component='engine'):
    """The family whose COMPONENT package is installed (docker-ce before debian, as apt lets only one be), or None."""
    for family in ('docker-ce', 'debian'):
        if PACKAGE_FAMILIES[family][component] in packages:
            return family
    return None


def component_package(packages, component='engine'):
    """(package name, its full dpkg version with epoch and revision) of the installed COMPONENT, or (None, None)."""
    family = package_family(packages, component)
    if family is None:
        return None, None
    name = PACKAGE_FAMILIES[family][component]
    return name, packages[name]


def engine_package_version(packages):
    """Upstream engine version of the installed engine package."""
    _name, version = component_package(packages, 'engine')
    return upstream_version(version) if version else None


def parse_containerd_version(text):
    """`containerd --version` -> (raw version, revision).

    'containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3'
    'containerd github.com/containerd/containerd/v2 2.1.9+unknown ' (empty revision)
    """
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == 'containerd':
            return fields[2], (fields[3] if len(fields) > 3 else None)
    return None, None


def parse_ctr_version(text):
    """`ctr version` -> {'client': {...}, 'server': {...}} with Version/Revision/UUID/Go version keys."""
    result = {'client': {}, 'server': {}}
    section = None
    for line in (text or '').splitlines():
        stripped = line.strip()
        if stripped in ('Client:', 'Server:'):
            section = stripped[:-1].lower()
            continue
        if section and ':' in stripped:
            key, value = stripped.split(':', 1)
            result[section][key.strip()] = value.strip()
    return result


def parse_shim_version(text):
    """`containerd-shim-runc-v2 -v` -> version ('containerd-shim-runc-v2:\\n  Version:  1.6.20~ds1\\n...')."""
    for line in (text or '').splitlines():
        stripped = line.strip()
        if stripped.startswith('Version:'):
            return stripped.split(':', 1)[1].strip() or None
    return None


def parse_simple_version(text):
    """'rootlesskit version 2.0.2' / 'slirp4netns version 1.2.0\\ncommit: ...' -> '2.0.2'."""
    for line in (text or '').splitlines():
        match = re.search(r'\bversion:?\s+v?(\S+)', line)
        if match:
            return match.group(1)
    return None


def parse_config_toml_version(text):
    """Top-level `version = N` of a containerd config.toml (before the first table), else None."""
    for line in (text or '').splitlines():
        stripped = line.split('#', 1)[0].strip()
        if stripped.startswith('['):
            return None
        match = re.match(r'^version\s*=\s*(\d+)\s*$', stripped)
        if match:
            return int(match.group(1))
    return None


def parse_environ(data):
    """Contents of /proc/PID/environ (NUL separated) -> dict."""
    env = {}
    if isinstance(data, bytes):
        data = data.decode('utf-8', 'replace')
    for item in (data or '').split('\0'):
        if '=' in item:
            key, value = item.split('=', 1)
            env[key] = value
    return env


def parse_cmdline(data):
    if isinstance(data, bytes):
        data = data.decode('utf-8', 'replace')
    return [arg for arg in (data or '').split('\0') if arg != '']


def cmdline_option(argv, *names):
    """Value of --opt=value / --opt value / -o value in an argument list (last one wins)."""
    values = cmdline_options(argv, *names)
    return values[-1] if values else None


def cmdline_options(argv, *names):
    """Every value of --opt=value / --opt value / -o value in an argument list, in order (-H a -H b)."""
    values = []
    for index, arg in enumerate(argv):
        for name in names:
            if arg.startswith(name + '='):
                values.append(arg[len(name) + 1:])
            elif arg == name and index + 1 < len(argv):
                values.append(argv[index + 1])
    return values


def unit_assignments(text):
    """systemd unit/drop-in text -> (section, key, value) for each `key=value` line, in order (comments skipped)."""
    section = None
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('['):
            section = line
        elif '=' in line:
            key, value = line.split('=', 1)
            yield section, key.strip(), value


def parse_unit_values(text, section, key):
    """Values of `key=` lines in one section of a systemd unit or drop-in, in order (empty values kept)."""
    return [value.strip() for where, name, value in unit_assignments(text) if where == section and name == key]


def parse_status(text):
    """/proc/PID/status -> {'name', 'ppid', 'uid'} (real uid)."""
    info = {'name': None, 'ppid': None, 'uid': None}
    for line in (text or '').splitlines():
        if line.startswith('Name:'):
            info['name'] = line.split(':', 1)[1].strip()
        elif line.startswith('PPid:'):
            info['ppid'] = int(line.split()[1])
        elif line.startswith('Uid:'):
            info['uid'] = int(line.split()[1])
    return info


# Whether a restart of containerd restarts dockerd too, read from the engine's unit as systemd has it loaded (its unit
# file and drop-ins): systemd.unit(5) - a unit with Requires=, BindsTo= or PartOf= on another is stopped or restarted
# when that one is explicitly stopped or restarted; Wants= and After= only pull it in and order. Docker's
# docker.service bound itself to containerd.service (BindsTo=, docker/docker-ce-packaging#150, 2018), then required
# it (Requires=, docker/docker-ce-packaging#508, 2020: the 20.10 unit), and only Wants= it since the unit moved to
# moby (moby/moby#42622, 2021: 23.0 and later). So on a docker-ce 20.10 host a containerd.io upgrade (its postinst
# restarts containerd) restarts dockerd with it, and dockerd kills the running containers after their stop timeout
# on its way down. Read from the host, never from the family or the version: a drop-in can add or remove it.
RESTART_PROPAGATING = ('Requires', 'BindsTo', 'PartOf')
UNIT_DEPENDENCY_PROPERTIES = RESTART_PROPAGATING + ('Wants',)


def unit_dependencies_argv(unit='docker.service'):
    """The `systemctl show` call whose output engine_follows_unit reads."""
    argv = ['systemctl', 'show', unit, '-p', 'LoadState']
    for prop in UNIT_DEPENDENCY_PROPERTIES:
        argv += ['-p', prop]
    return argv


def engine_follows_unit(show_text, unit='containerd.service'):
    """How the unit whose `systemctl show -p Requires -p BindsTo -p PartOf -p Wants` output is ``show_text`` depends
    on ``unit``: {'restarts_with': bool, 'dependency': 'Requires=containerd.service' or None}. A restart of ``unit``
    restarts it when ``unit`` is in Requires=, BindsTo= or PartOf= (the first of them that names it is the
    dependency); Wants= alone does not. None when the text says nothing (no systemctl) or LoadState= is not
    ``loaded`` (no such unit): unknown.

    'Requires=containerd.service system.slice docker.socket sysinit.target\nWants=network-online.target\n...'
    -> {'restarts_with': True, 'dependency': 'Requires=containerd.service'}
    """
    props, load = {}, None
    for line in (show_text or '').splitlines():
        key, sep, value = line.partition('=')
        if sep and key.strip() in UNIT_DEPENDENCY_PROPERTIES:
            props[key.strip()] = value.split()
        elif sep and key.strip() == 'LoadState':
            load = value.strip()
    if not props or load not in (None, 'loaded'):
        return None
    for prop in UNIT_DEPENDENCY_PROPERTIES:
        if unit in props.get(prop, ()):
            return {'restarts_with': prop in RESTART_PROPAGATING, 'dependency': '%s=%s' % (prop, unit)}
    return {'restarts_with': False, 'dependency': None}


def parse_unit_environment(text, names):
    """systemd unit/drop-in text -> [(name, value, directive)] for Environment= lines setting one of names.

    Also returns EnvironmentFile= paths as (None, path, 'EnvironmentFile') so callers can read them.
    """
    found = []
    for section, key, value in unit_assignments(text):
        if section not in (None, '[Service]'):
            continue
        if key == 'Environment':
            try:
                items = shlex.split(value)
            except ValueError:
                items = value.split()
            for item in items:
                if '=' in item:
                    name, val = item.split('=', 1)
                    if name in names:
                        found.append((name, val, 'Environment'))
        elif key == 'EnvironmentFile':
            path = value.strip()
            if path:
                found.append((None, path.lstrip('-'), 'EnvironmentFile'))
    return found


def parse_env_file(text, names):
    """A systemd EnvironmentFile / /etc/default file -> [(name, value)] for names (optionally `export`ed)."""
    found = []
    for raw in (text or '').splitlines():
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith('export '):
            line = line[len('export '):].strip()
        if '=' not in line:
            continue
        name, value = line.split('=', 1)
        name = name.strip()
        if name in names:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                value = value[1:-1]
            found.append((name, value))
    return found


def user_unit_from_cgroup(text):
    """/proc/PID/cgroup -> the systemd user unit the process runs in (e.g. docker.service), else None."""
    for line in (text or '').splitlines():
        path = line.split(':', 2)[-1]
        parts = path.split('/')
        for index, part in enumerate(parts):
            if re.match(r'^user@\d+\.service$', part):
                for later in parts[index + 1:]:
                    if later.endswith('.service'):
                        return later
                return None
    return None


# A release as the filters read it (plugin_utils/_versions.py): 6.1.3, v2.0.2, 29.0.0-rc.1, 1274 (a Jenkins plugin's
# leading number).
RELEASE_RE = re.compile(r'^[vV]?\d+(\.\d+)*([-~.]?(dev|alpha|beta|pre|rc|a|b)[.-]?\d*)?([-+~][-+~._:A-Za-z0-9]*)?$')
_RELEASE_PARTS = re.compile(r'^[vV]?(\d+(?:\.\d+)*)')


def release_parts(text):
    """'v3.6.2-alpine' -> (3, 6, 2); '3' -> (3,); None for what is not a release (latest, a digest, 2024-05)."""
    if not text or not RELEASE_RE.match(text):
        return None
    return tuple(int(part) for part in _RELEASE_PARTS.match(text).group(1).split('.'))


def names_release(tag):
    """Does an image tag name one release? Only with three parts or more, as the filters read tags (traefik:3.6,
    traefik:3 and traefik:latest float: the release behind them changes when the image is pushed again)."""
    parts = release_parts(tag)
    return parts is not None and len(parts) >= 3


def tag_admits(tag, version):
    """Can a floating tag stand for this release? A partial release tag (3, v3.6) only for releases it starts
    (3.6.2 for 3.6); latest, no tag or a name like stable for any."""
    parts = release_parts(tag)
    wanted = release_parts(version)
    if wanted is None:
        return False
    return parts is None or wanted[:len(parts)] == parts


def split_image(image):
    """'caprover/caprover:1.12.0' -> ('caprover/caprover', '1.12.0'); 'localhost:5000/a' -> ('localhost:5000/a', None).

    A digest reference ('name@sha256:...') has no tag; an image ID ('sha256:...') has no name.
    """
    if not image:
        return None, None
    if re.match(r'^(sha256:)?[0-9a-f]{64}$', image):
        return None, None
    name = image.split('@', 1)[0]
    tag = None
    last = name.rsplit('/', 1)[-1]
    if ':' in last:
        name, tag = name.rsplit(':', 1)
    return name, tag


def components_by_name(version):
    """Server.Components of /version -> {lower-case name: {'version', 'details'}}."""
    result = {}
    for comp in (version or {}).get('Components') or []:
        name = str(comp.get('Name') or '').lower()
        if name:
            result[name] = {'version': comp.get('Version'), 'details': comp.get('Details') or {}}
    return result


# dockerd's one-letter flags, as its command line accepts them (moby/moby cmd/dockerd/config.go and
# cmd/dockerd/options.go at v20.10 - v28; -g is --graph up to 23.0)
DOCKERD_SHORT_FLAGS = {'-b': '--bridge', '-D': '--debug', '-G': '--group', '-g': '--graph', '-H': '--host',
                       '-l': '--log-level', '-p': '--pidfile', '-s': '--storage-driver'}
# dockerd flags that never take a separate value (`--debug value` is not a thing; `--debug=false` is)
DOCKERD_BOOL_FLAGS = ('--debug', '--experimental', '--icc', '--ip-forward', '--ip-masq', '--iptables', '--ip6tables',
                      '--ipv6', '--live-restore', '--no-new-privileges', '--raw-logs', '--selinux-enabled',
                      '--tls', '--tlsverify', '--userland-proxy', '--validate', '--init', '--rootless',
                      '--userns-remap-disabled', '--disable-legacy-registry')


def dockerd_flags(argv):
    """dockerd's argument list (argv[0] is the program) -> [(flag, value or None)] in order.

    '-H', 'fd://' -> ('--host', 'fd://'); '--iptables=false' -> ('--iptables', 'false'); '--debug' ->
    ('--debug', None); '-Dg' style bundles are split; a word that is not a flag and follows a flag that
    takes a value is its value.
    """
    flags = []
    args = list(argv[1:]) if argv else []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == '--':
            break
        if not arg.startswith('-') or arg == '-':
            continue
        if arg.startswith('--'):
            name, sep, value = arg.partition('=')
            if sep:
                flags.append((name, value))
                continue
        else:
            name, value = arg[:2], arg[2:]
            name = DOCKERD_SHORT_FLAGS.get(name, name)
            if value:
                if value.startswith('='):
                    value = value[1:]
                flags.append((name, value))
                continue
        if name not in DOCKERD_BOOL_FLAGS and index < len(args) and not args[index].startswith('-'):
            flags.append((name, args[index]))
            index += 1
        else:
            flags.append((name, None))
    return flags


_EXEC_PREFIXES = '-@:+!'
# a whole ExecStart= word that is one environment variable ($DOCKER_OPTS, ${DOCKER_OPTS}): systemd splits its
# value into words
ENV_WORD = re.compile(r'^\$(?:(\w+)|\{(\w+)\})$')


def exec_start_argv(value):
    """The value of one ExecStart= line -> argument list (its prefixes -@:+! dropped), [] for an empty reset."""
    text = (value or '').strip()
    while text and text[0] in _EXEC_PREFIXES:
        text = text[1:]
    if not text:
        return []
    try:
        return shlex.split(text.replace('\\\n', ' '))
    except ValueError:
        return text.split()


def effective_exec_start(texts):
    """[(path, unit or drop-in text)] in the order systemd reads them -> (path, argv) of the ExecStart= in
    effect, or (None, []) when there is none. An empty ExecStart= clears the ones before it; a service
    with several ExecStart= lines left runs them in order, and dockerd is the last one."""
    current = (None, [])
    for path, text in texts:
        for section, key, value in unit_assignments(text):
            if section != '[Service]' or key != 'ExecStart':
                continue
            argv = exec_start_argv(value)
            current = (path, argv) if argv else (None, [])
    return current


def parse_iptables_version(text):
    """`iptables -V` -> (version, backend). 'iptables v1.8.9 (nf_tables)' -> ('1.8.9', 'nf_tables');
    'iptables v1.8.9 (legacy)' -> ('1.8.9', 'legacy'); 'iptables v1.6.1' (before 1.8 there was no choice
    and the output names none) -> ('1.6.1', None)."""
    match = re.search(r'iptables v(\d+(?:\.\d+)*)\s*(?:\(([a-z_]+)\))?', text or '')
    if not match:
        return None, None
    return match.group(1), match.group(2)


def module_name(text):
    """'kernel/net/netfilter/xt_set.ko.zst' or 'xt-set' -> 'xt_set' (the kernel treats - and _ alike)."""
    base = text.strip().rsplit('/', 1)[-1]
    for suffix in ('.zst', '.xz', '.gz'):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
    if base.endswith('.ko'):
        base = base[:-3]
    return base.replace('-', '_')


def parse_proc_modules(text):
    """/proc/modules -> set of loaded module names."""
    return {module_name(line.split()[0]) for line in (text or '').splitlines() if line.strip()}


def parse_module_list(text):
    """modules.builtin or modules.dep of /lib/modules/RELEASE -> set of module names they list."""
    names = set()
    for line in (text or '').splitlines():
        path = line.split(':', 1)[0].strip()
        if path:
            names.add(module_name(path))
    return names


def parse_proc_net_unix(text):
    """/proc/net/unix -> [(inode, path)] for sockets bound to a path (abstract and unnamed ones left out)."""
    found = []
    for line in (text or '').splitlines()[1:]:
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[6].isdigit() and fields[7].startswith('/'):
            found.append((int(fields[6]), fields[7].strip()))
    return found


def same_socket_path(one, other):
    """/var/run is a link to /run on every systemd host: /var/run/docker.sock and /run/docker.sock are one."""
    def norm(path):
        return '/run/' + path[len('/var/run/'):] if path.startswith('/var/run/') else path
    return bool(one) and bool(other) and norm(one) == norm(other)


def unit_from_cgroup(text):
    """/proc/PID/cgroup -> (unit, 'system' | 'user') for the innermost systemd service or scope the process runs
    in (ci-events.service, session-3.scope), else (None, None)."""
    for line in (text or '').splitlines():
        parts = [part for part in line.split(':', 2)[-1].split('/') if part]
        user = any(re.match(r'^user@\d+\.service$', part) for part in parts)
        for part in reversed(parts):
            if part.endswith(('.service', '.scope')) and not re.match(r'^user@\d+\.service$', part):
                return part, 'user' if user else 'system'
    return None, None


def parse_dpkg_search(text):
    """`dpkg-query -S PATH` -> the package owning the path ('docker-cli: /usr/bin/docker' -> docker-cli)."""
    for line in (text or '').splitlines():
        if ': ' in line and not line.startswith('diversion '):
            names = line.split(': ', 1)[0]
            return names.split(',')[0].strip().split(':')[0] or None
    return None


def parse_docker_cli_version(text):
    """`docker --version` -> '28.2.2' ('Docker version 28.2.2, build e6534b4')."""
    match = re.search(r'Docker version v?(\d+\.\d+\.\d+[^\s,]*)', text or '')
    return match.group(1) if match else None


def dist_version(names, project):
    """The release of a Python project from the names in a site-packages folder (docker-7.1.0.dist-info,
    docker-5.0.3.egg-info, docker_compose-1.29.2.dist-info), when the folder also holds the import package."""
    wanted = project.replace('-', '_').lower()
    for name in names or []:
        match = re.match(r'^([A-Za-z0-9_.-]+?)-(\d[^-]*?)(?:-py\d[^-]*)?\.(?:dist|egg)-info$', name)
        if match and match.group(1).replace('-', '_').replace('.', '_').lower() == wanted:
            return match.group(2)
    return None


_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_UNIX_DIAG_PEER = 2


def parse_unix_diag(data, pairs):
    """One read of a sock_diag dump of unix sockets (netlink messages: nlmsghdr, unix_diag_msg, attributes):
    appends [inode, peer inode] to pairs for each UNIX_DIAG_PEER; returns (done, error sentence or None)."""
    offset = 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from('=IH', data, offset)
        if length < 16 or kind == _NLMSG_DONE:
            return True, None
        if kind == _NLMSG_ERROR:
            code = -struct.unpack_from('=i', data, offset + 16)[0]
            return True, 'sock_diag answered %s' % os.strerror(code)
        inode = struct.unpack_from('=I', data, offset + 20)[0]
        attr, end = offset + 32, min(offset + length, len(data))
        while attr + 4 <= end:
            size, attr_type = struct.unpack_from('=HH', data, attr)
            if size < 4:
                break
            if attr_type == _UNIX_DIAG_PEER and size >= 8:
                pairs.append([inode, struct.unpack_from('=I', data, attr + 4)[0]])
            attr += (size + 3) & ~3
        offset += (length + 3) & ~3
    return False, None
