# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the filters' input: the facts (docs/facts.md) and the target, checked and parsed once.

The input contract (docs/findings.md "What the filters accept"):

* facts: ``ansible_facts.container_engine`` (a dict whose keys are sections docker, containerd,
  rootless, clients), or the whole ``ansible_facts`` (a dict with a ``container_engine`` dict).
  A section that is absent or null was not gathered and its checks are skipped; any other key is an
  error (a whole ``hostvars[host]`` passed by mistake would otherwise skip every check).  At least
  one section must be present unless the target only lists images.  Inside a present section every
  key this code reads must exist.
* target: every key may be omitted (nothing changes there); a key that is present must hold a
  value: ``engine: null`` is an error, not "no change".  Versions are release strings
  (``26.1.5``, ``26.1``, ``5:28.0.1-1~debian.12~bookworm``); anything after the release that is not
  a packaging suffix (``26.1.5garbage``) is an error.

Every error is an InputError naming the path of the bad value and showing it as the user wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    PACKAGE_FAMILIES,
    InputError,
    describe,
    got,
    is_undefined,
    kind,
    parse_api,
    parse_version,
)

SECTIONS = ('docker', 'containerd', 'rootless', 'clients')
TARGET_KEYS = ('engine', 'containerd', 'clients', 'images', 'package_family', 'package_family_switch')
IMAGE_KEYS = ('image', 'tag', 'available', 'allow_fallback')
# where a variable of dockerd's environment is found: the running process, the unit, a drop-in, a file the unit names
ENV_SOURCES = ('environment', 'systemd_unit', 'systemd_dropin', 'environment_file')
OVERRIDE_SOURCES = ENV_SOURCES + ('daemon_json',)
FLAG_SOURCES = ('cmdline', 'systemd_unit', 'systemd_dropin')
HOST_KEYS = ('container', 'virtualization', 'kernel_release', 'iptables_version', 'iptables_backend')
MODULE_STATES = ('loaded', 'builtin', 'available', 'missing')
# OCI distribution spec: a tag is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} (128 characters at most).
TAG_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$')
TAG_MAX = 128


def req(mapping, key, path):
    if key not in mapping:
        raise InputError('facts are missing key %s.%s (see docs/facts.md)' % (path, key))
    return mapping[key]


def as_dict(value, path, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, dict) and not isinstance(value, Mapping):   # or what Ansible hands over (hostvars)
        raise InputError('%s must be a dict, got %s' % (path, got(value)))
    return value


def as_daemon_json(value, path):
    """A parsed daemon.json: a JSON object, so a dict whose keys are strings ({} when absent)."""
    value = as_dict(value, path, optional=True) or {}
    for key in value:
        if not isinstance(key, str):
            raise InputError('%s must be daemon.json as parsed (keys are strings), got the key %s %s' % (
                path, kind(key), describe(key)))
    return dict(value)


def _sourced_entries(value, path, key, sources, wanted):
    """[{key, 'value', 'source', 'where'}] where key's value must pass ``wanted`` (None when fine, else what it
    must be) and source be one of ``sources``."""
    found = []
    for i, item in enumerate(as_list(value, path)):
        ip = '%s[%d]' % (path, i)
        item = as_dict(item, ip)
        name = as_str(req(item, key, ip), '%s.%s' % (ip, key))
        must = wanted(name)
        if must:
            raise InputError('%s.%s must be %s, got %s' % (ip, key, must, describe(name)))
        source = as_str(req(item, 'source', ip), ip + '.source')
        if source not in sources:
            raise InputError('%s.source must be one of %s, got %s' % (ip, ', '.join(sources), describe(source)))
        found.append({key: name, 'value': as_str(item.get('value'), ip + '.value'), 'source': source,
                      'where': as_str(item.get('where'), ip + '.where')})
    return found


def as_daemon_flags(value, path):
    """docker.daemon_flags: [{'flag', 'value', 'source', 'where'}]."""
    return _sourced_entries(value, path, 'flag', FLAG_SOURCES,
                            lambda flag: None if flag and flag.startswith('-') else 'a dockerd flag such as --graph')


def as_daemon_environment(value, path):
    """docker.daemon_environment: [{'name', 'value', 'source', 'where'}]."""
    return _sourced_entries(value, path, 'name', ENV_SOURCES,
                            lambda name: None if name else 'a variable name such as DOCKER_MIN_API_VERSION')


def as_host(value, path):
    """docker.host: the host environment, every value may be null (unknown); None when not gathered."""
    value = as_dict(value, path, optional=True)
    if value is None:
        return None
    host = {key: as_str(value.get(key), '%s.%s' % (path, key)) for key in HOST_KEYS}
    host['firewalld_active'] = as_bool(value.get('firewalld_active'), path + '.firewalld_active')
    modules = as_dict(value.get('kernel_modules'), path + '.kernel_modules', optional=True) or {}
    host['kernel_modules'] = {}
    for name, state in modules.items():
        state = as_str(state, '%s.kernel_modules.%s' % (path, name))
        if state is not None and state not in MODULE_STATES:
            raise InputError('%s.kernel_modules.%s must be one of %s or null, got %s' % (
                path, name, ', '.join(MODULE_STATES), describe(state)))
        host['kernel_modules'][str(name)] = state
    return host


def as_list(value, path):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError('%s must be a list, got %s' % (path, got(value)))
    return value


def as_str(value, path):
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError('%s must be a string or null, got %s' % (path, got(value)))
    return value


def _as_family(value, path):
    if value is not None and (not isinstance(value, str) or value not in PACKAGE_FAMILIES):
        raise InputError('%s is %s, not a package family: one of %s or null' % (
            path, describe(value), ', '.join(sorted(PACKAGE_FAMILIES))))
    return value


def as_bool(value, path):
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InputError('%s must be true, false or null, got %s' % (path, describe(value)))
    return value


def as_int(value, path):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError('%s must be an integer or null, got %s' % (path, describe(value)))
    return value


def as_version(value, path):
    text = as_str(value, path)
    return parse_version(text, path) if text is not None else None


def _version_or_none(value, path):
    try:
        return as_version(value, path)
    except InputError:
        return None


def as_api(value, path):
    text = as_str(value, path)
    return parse_api(text, path) if text is not None else None


def check_tag(tag, path):
    """An image tag as registries accept it (OCI distribution spec), else InputError."""
    if not isinstance(tag, str) or not tag:
        raise InputError('%s must be a non-empty tag string, got %s' % (path, got(tag)))
    if len(tag) > TAG_MAX:
        raise InputError('%s is %d characters long; registries allow at most %d: %s' % (
            path, len(tag), TAG_MAX, describe(tag)))
    if not TAG_RE.match(tag):
        raise InputError('%s is not an image tag (letters, digits, "_", "." and "-", not starting with "." or '
                         '"-"): %s' % (path, describe(tag)))
    return tag


def split_image(ref):
    """``registry/ns/name:tag@sha256:...`` -> (name, tag or None)."""
    ref = ref.split('@', 1)[0]
    slash = ref.rfind('/')
    colon = ref.rfind(':')
    if colon > slash:
        return ref[:colon], ref[colon + 1:] or None
    return ref, None


def _unwrap(facts):
    """The container_engine dict out of what the user passed, or InputError saying what was passed.  A wrapped
    ``{'container_engine': {...}}`` (the whole ansible_facts) is checked exactly like the unwrapped dict."""
    if facts is None or is_undefined(facts):
        raise InputError('facts are %s: pass ansible_facts.container_engine as gathered by fleetsafe.container_engine.'
                         'container_engine_facts (an unset variable never means "nothing to check")' % got(facts))
    facts = as_dict(facts, 'facts')
    path = 'facts'
    if 'container_engine' in facts:
        facts, path = facts['container_engine'], 'facts.container_engine'
        if facts is None or is_undefined(facts):
            raise InputError('%s is %s: gather the facts first (fleetsafe.container_engine.container_engine_facts)' % (
                path, got(facts)))
        facts = as_dict(facts, path)
    unknown = sorted(str(key) for key in facts if key not in SECTIONS)
    if unknown:
        hint = ''
        if any(key in ('ansible_facts', 'inventory_hostname', 'group_names', 'groups') for key in unknown):
            hint = ' (this looks like hostvars[host]: pass hostvars[host].ansible_facts.container_engine)'
        elif any(key.startswith('ansible_') or key in ('os_family', 'distribution') for key in unknown):
            hint = ' (this looks like ansible_facts without container_engine: run fleetsafe.container_engine.' \
                   'container_engine_facts first)'
        if path != 'facts':
            raise InputError('%s has key(s) %s that are not sections (%s): a misspelt section would skip every check '
                             'of it%s' % (path, describe(', '.join(unknown)), ', '.join(SECTIONS), hint))
        raise InputError('facts must be ansible_facts.container_engine (sections %s), got a dict with key(s) %s%s' % (
            ', '.join(SECTIONS), describe(', '.join(unknown)), hint))
    return facts


class Client:
    """A program that calls the Docker API: a container (image), a process on the host (its executable, with the
    ``program`` and ``version`` the facts read), a service whose unit points at the socket, or a program or library
    declared with its ``program`` name (a knowledge-base client name such as docker-py) and the ``version`` it
    runs."""

    __slots__ = ('name', 'image', 'image_name', 'image_tag', 'api_env', 'declared_api', 'program', 'version', 'exe',
                 'unit', 'learned', 'learned_from', 'managed_by', 'manager')

    def __init__(self, name):
        self.name = name
        self.image = None
        self.image_name = None
        self.image_tag = None
        self.api_env = None
        self.declared_api = None
        self.program = None
        self.version = None
        self.exe = None     # a host process: its executable
        self.unit = None    # a systemd service that points a program at the socket
        self.learned = None         # the release the host tells when the image tag does not (a label, a registry)
        self.learned_from = None    # where: label:org.opencontainers.image.version, registry:...
        self.managed_by = None  # compose, swarm: what recreates the container from its own definition
        self.manager = None     # what the facts say about that manager (as_manager)


def next_start_environment(entries):
    """The entries of dockerd's environment (source: ENV_SOURCES) its next start uses: what the unit, its drop-ins
    and the environment files they name set, when they set any, else the running daemon's (the live environment
    may come from a file changed since; the upgrade's restart runs what the unit says)."""
    from_units = [e for e in entries if e['source'] != 'environment']
    return from_units or list(entries)


def as_overrides(value, p):
    """min_api_overrides: [{source, value, where}] as the facts modules write them."""
    overrides = []
    for i, item in enumerate(as_list(value, p)):
        ip = '%s[%d]' % (p, i)
        item = as_dict(item, ip)
        source = as_str(req(item, 'source', ip), ip + '.source')
        if source not in OVERRIDE_SOURCES:
            raise InputError('%s.source must be one of %s, got %s' % (
                ip, ', '.join(OVERRIDE_SOURCES), describe(source)))
        value = as_str(req(item, 'value', ip), ip + '.value')
        if value is None:
            raise InputError('%s.value must be the override as written, got null' % ip)
        overrides.append({'source': source, 'value': value, 'where': as_str(item.get('where'), ip + '.where')})
    return overrides


class Host:
    """The facts, checked and parsed once."""

    def __init__(self, facts):
        facts = _unwrap(facts)
        self.docker = self.containerd = self.rootless = None
        self.docker_error = None
        self.clients = []
        self.clients_gathered = False
        self.sections = [name for name in SECTIONS if facts.get(name) is not None]
        if facts.get('docker') is not None:
            self._read_docker(as_dict(facts['docker'], 'docker'))
        if facts.get('containerd') is not None:
            self._read_containerd(as_dict(facts['containerd'], 'containerd'))
        if facts.get('rootless') is not None:
            self._read_rootless(as_dict(facts['rootless'], 'rootless'))
        if facts.get('clients') is not None:
            self._read_clients(as_dict(facts['clients'], 'clients'))

    def _read_docker(self, d):
        p = 'docker'
        can_talk = as_bool(req(d, 'can_talk_to_docker', p), p + '.can_talk_to_docker')
        overrides = as_overrides(req(d, 'min_api_overrides', p), p + '.min_api_overrides')
        containers = as_dict(req(d, 'containers', p), p + '.containers', optional=True) or {}
        components = as_dict(req(d, 'components', p), p + '.components', optional=True) or {}
        rootlesskit = as_dict(components.get('rootlesskit'), p + '.components.rootlesskit', optional=True) or {}
        runc = as_dict(components.get('runc'), p + '.components.runc', optional=True) or {}
        self.docker = {
            'version': as_version(req(d, 'version', p), p + '.version'),
            'api_max': as_api(req(d, 'api_version', p), p + '.api_version'),
            'api_min': as_api(req(d, 'min_api_version', p), p + '.min_api_version'),
            'installed_version': as_version(req(d, 'installed_version', p), p + '.installed_version'),
            'stale': as_bool(req(d, 'stale', p), p + '.stale'),
            'storage_driver': as_str(req(d, 'storage_driver', p), p + '.storage_driver'),
            'live_restore': as_bool(req(d, 'live_restore', p), p + '.live_restore'),
            'running': as_int(containers.get('running'), p + '.containers.running'),
            'overrides': overrides,
            'rootlesskit_version': as_version(rootlesskit.get('version'), p + '.components.rootlesskit.version'),
            # what dockerd reports for runc is whatever runc --version printed: unparsable means unknown
            'runc_version': _version_or_none(runc.get('version'), p + '.components.runc.version'),
            # optional: facts gathered before daemon.json was read have no such key
            'daemon_json': as_daemon_json(d.get('daemon_json'), p + '.daemon_json'),
            # optional: facts gathered before 0.3 carry neither
            'daemon_flags': as_daemon_flags(d.get('daemon_flags'), p + '.daemon_flags'),
            # optional: facts gathered by older releases of docker_facts do not carry it
            'daemon_environment': as_daemon_environment(d.get('daemon_environment'), p + '.daemon_environment'),
            'host': as_host(d.get('host'), p + '.host'),
            # optional: facts gathered before 0.3 do not name the installed engine package's family
            'package_family': as_str(d.get('package_family'), p + '.package_family'),
            # optional: facts of earlier releases do not say whether a containerd restart restarts dockerd (unknown)
            'restarts_with_containerd': as_bool(d.get('restarts_with_containerd'), p + '.restarts_with_containerd'),
            'containerd_dependency': as_str(d.get('containerd_dependency'), p + '.containerd_dependency'),
        }
        if not can_talk:
            self.docker_error = as_str(d.get('error'), p + '.error') or 'the Docker daemon did not answer'
            if self.docker['version'] is None:
                self.docker['unreachable'] = True

    def _read_containerd(self, d):
        p = 'containerd'
        shims = []
        for i, shim in enumerate(as_list(req(d, 'shims', p), p + '.shims')):
            sp = '%s.shims[%d]' % (p, i)
            shim = as_dict(shim, sp)
            shims.append((as_str(shim.get('name'), sp + '.name'), as_version(shim.get('version'), sp + '.version')))
        # Facts gathered before 0.2 carried the module's own shim-protocol judgement; the knowledge base
        # judges now.  When present they are only a fallback for versions the facts could not read.
        accepted = d.get('shim_protocol_accepted')
        if accepted is not None:
            accepted = [as_int(x, p + '.shim_protocol_accepted[]')
                        for x in as_list(accepted, p + '.shim_protocol_accepted')]
        self.containerd = {
            'installed': as_bool(req(d, 'installed', p), p + '.installed'),
            'installed_version': as_version(req(d, 'installed_version', p), p + '.installed_version'),
            'running': as_bool(req(d, 'running', p), p + '.running'),
            'running_version': as_version(req(d, 'running_version', p), p + '.running_version'),
            'exe_deleted': as_bool(req(d, 'exe_deleted', p), p + '.exe_deleted'),
            'restart_required': as_bool(req(d, 'restart_required', p), p + '.restart_required'),
            'restart_reasons': [as_str(r, p + '.restart_reasons[]') or '' for r in
                                as_list(req(d, 'restart_reasons', p), p + '.restart_reasons')],
            'shims': shims,
            'accepted': accepted or None,
            'produced': as_int(d.get('shim_protocol_produced'), p + '.shim_protocol_produced'),
            'config_version': as_int(req(d, 'config_version', p), p + '.config_version'),
            'package_family': as_str(d.get('package_family'), p + '.package_family'),
        }

    def _read_rootless(self, d):
        p = 'rootless'
        daemons = []
        for i, item in enumerate(as_list(req(d, 'daemons', p), p + '.daemons')):
            ip = '%s.daemons[%d]' % (p, i)
            item = as_dict(item, ip)
            user = req(item, 'user', ip)
            if isinstance(user, (dict, list)):
                raise InputError('%s.user must be a user name, got %s' % (ip, got(user)))
            daemons.append({
                'user': str(user) if user is not None else '?',
                'engine_version': as_version(req(item, 'engine_version', ip), ip + '.engine_version'),
                'port_driver': as_str(req(item, 'port_driver', ip), ip + '.port_driver'),
                'net_driver': as_str(req(item, 'net_driver', ip), ip + '.net_driver'),
                'rootlesskit_version': as_version(req(item, 'rootlesskit_version', ip), ip + '.rootlesskit_version'),
                # optional: facts gathered before 0.3 did not read a user's overrides
                'overrides': as_overrides(item.get('min_api_overrides') or [], ip + '.min_api_overrides'),
                'systemd_unit': as_str(item.get('systemd_unit'), ip + '.systemd_unit'),
                # optional: older facts did not read the script; script_known tells a null script (the daemon was not
                # started by dockerd-rootless.sh) from facts that never looked
                'script_known': 'script' in item,
                'script': as_str(item.get('script'), ip + '.script'),
                'script_family': _as_family(item.get('script_family'), ip + '.script_family'),
            })
        self.rootless = daemons

    def _read_clients(self, d):
        p = 'clients'
        self.clients_gathered = True
        by_name = {}
        for i, item in enumerate(as_list(req(d, 'socket_mounts', p), p + '.socket_mounts')):
            ip = '%s.socket_mounts[%d]' % (p, i)
            item = as_dict(item, ip)
            name = as_str(req(item, 'name', ip), ip + '.name') or as_str(item.get('id'), ip + '.id') or '#%d' % i
            client = by_name.setdefault(name, Client(name))
            client.image = as_str(req(item, 'image', ip), ip + '.image')
            client.image_name = as_str(req(item, 'image_name', ip), ip + '.image_name')
            client.image_tag = as_str(req(item, 'image_tag', ip), ip + '.image_tag')
            client.api_env = as_api(req(item, 'api_version_env', ip), ip + '.api_version_env')
            # optional: facts gathered by older releases of clients_facts do not carry it
            client.learned, client.learned_from = as_learned(item.get('version_learned'), ip + '.version_learned')
            # optional: facts gathered before 0.5 do not say
            client.managed_by, client.manager = as_manager(item.get('managed_by'), item.get('manager'), ip)
        # optional: facts gathered before 0.4, or with host_processes=false, carry none
        for i, item in enumerate(as_list(d.get('host_processes'), p + '.host_processes')):
            ip = '%s.host_processes[%d]' % (p, i)
            item, client = _named_client(by_name, item, ip, 'name', 'the client')
            client.exe = as_str(req(item, 'exe', ip), ip + '.exe')
            client.api_env = as_api(req(item, 'api_version_env', ip), ip + '.api_version_env') or client.api_env
            program = as_str(req(item, 'program', ip), ip + '.program')
            client.program = program or client.program
            # a version the facts module read that the filters cannot parse leaves the client unknown, not an error
            version = as_str(req(item, 'version', ip), ip + '.version')
            client.version = _version_or_none(version, ip + '.version') if program else None
        for i, item in enumerate(as_list(d.get('declared_by_unit'), p + '.declared_by_unit')):
            ip = '%s.declared_by_unit[%d]' % (p, i)
            item = as_dict(item, ip)
            if as_str(req(item, 'socket_path', ip), ip + '.socket_path') is None:
                continue    # a TCP or SSH address: another engine, maybe, not judged against this one
            item, client = _named_client(by_name, item, ip, 'unit', 'the service')
            client.unit = client.name
            client.api_env = client.api_env or as_api(req(item, 'api_version_env', ip), ip + '.api_version_env')
        for i, item in enumerate(as_list(req(d, 'declared', p), p + '.declared')):
            ip = '%s.declared[%d]' % (p, i)
            item, client = _named_client(by_name, item, ip, 'name', 'the client')
            client.declared_api = as_api(item.get('api_version'), ip + '.api_version') or client.declared_api
            image = as_str(item.get('image'), ip + '.image')
            if image and client.image_name is None:
                client.image = image
                client.image_name, client.image_tag = split_image(image)
            version = as_version(item.get('version'), ip + '.version')
            if version is not None:
                client.version = version
                client.program = as_str(item.get('program'), ip + '.program') or client.name
            elif item.get('program') is not None:
                raise InputError('%s.program %s needs the version it runs (%s.version, like "6.1.3")' % (
                    ip, describe(item.get('program')), ip))
            if client.image_name is None and client.declared_api is None and client.version is None:
                raise InputError('%s needs api_version, image, or program and version' % ip)
        self.clients = list(by_name.values())


def as_learned(value, path):
    """socket_mounts[].version_learned: (Version, source) or (None, None) when null."""
    value = as_dict(value, path, optional=True)
    if value is None:
        return None, None
    version = as_version(req(value, 'version', path), path + '.version')
    source = as_str(req(value, 'source', path), path + '.source')
    if version is None or not source:
        raise InputError('%s must hold the release learned and where it was read (version, source), got %s' % (
            path, describe(value)))
    return version, source


MANAGERS = ('compose', 'swarm')


def as_manager(managed_by, manager, path):
    """socket_mounts[].managed_by and .manager (docs/facts.md): (None, None), ('compose', {project, service,
    working_dir, config_files, image_file, image_in_file, problem}) or ('swarm', {service_name, service_id,
    task_name, stack})."""
    managed_by = as_str(managed_by, path + '.managed_by')
    if managed_by is None:
        if manager is not None:
            raise InputError('%s.manager must be null when %s.managed_by is null, got %s' % (
                path, path, describe(manager)))
        return None, None
    if managed_by not in MANAGERS:
        raise InputError('%s.managed_by must be one of %s or null, got %s' % (
            path, ', '.join(MANAGERS), describe(managed_by)))
    mp = path + '.manager'
    manager = as_dict(manager, mp)
    if managed_by == 'swarm':
        parsed = {key: as_str(manager.get(key), '%s.%s' % (mp, key))
                  for key in ('service_name', 'service_id', 'task_name', 'stack')}
        if not parsed['service_name'] and not parsed['service_id']:
            raise InputError('%s needs service_name or service_id (the swarm service the task belongs to)' % mp)
        return managed_by, parsed
    parsed = {key: as_str(req(manager, key, mp), '%s.%s' % (mp, key)) for key in ('project', 'service')}
    for key in ('project', 'service'):
        if not parsed[key]:
            raise InputError('%s.%s must name the compose %s, got %s' % (mp, key, key, describe(parsed[key])))
    for key in ('working_dir', 'compose_version', 'image_file', 'image_in_file', 'problem'):
        parsed[key] = as_str(manager.get(key), '%s.%s' % (mp, key))
    files = as_list(req(manager, 'config_files', mp), mp + '.config_files')
    parsed['config_files'] = [as_str(f, '%s.config_files[%d]' % (mp, i)) for i, f in enumerate(files)]
    return managed_by, parsed


def _named_client(by_name, item, path, key, what):
    """(the item as a dict, the Client named by item[key]: the one already read under that name, else a new one)."""
    item = as_dict(item, path)
    name = as_str(req(item, key, path), '%s.%s' % (path, key))
    if not name:
        raise InputError('%s.%s must name %s' % (path, key, what))
    return item, by_name.setdefault(name, Client(name))


def _target_version(target, key):
    """A target version: absent -> None (no change); present -> a release of 2 or 3 parts."""
    if key not in target:
        return None
    path = 'target.' + key
    value = target[key]
    if value is None:
        raise InputError('%s is null: give a version (like "26.1.5"), or leave the key out to keep the %s as it '
                         'is' % (path, key))
    version = parse_version(value, path)
    if len(version.release) not in (2, 3):
        raise InputError('%s must be a release like "26.1.5" or a line like "26.1", got %s' % (path, describe(value)))
    return version


class _Omitted:
    """The target argument left out of the filter call: judge the host as it is.  Shown as {} in signatures."""

    def __repr__(self):
        return '{}'


OMITTED = _Omitted()


def read_target(target):
    """The target, checked.  Left out (OMITTED) or ``{}``: nothing changes.  ``None``, an undefined variable or any
    other non-dict is an error: a target built from an unset variable must never turn every blocker into a green
    light."""
    if target is OMITTED:
        target = {}
    if target is None or is_undefined(target):
        raise InputError('target is %s: give the versions to judge (like {"engine": "26.1.5"}), {} to judge the host '
                         'as it is, or leave the argument out; an unset variable is never "no change"' % got(target))
    target = as_dict(target, 'target')
    for key in target:
        if key not in TARGET_KEYS:
            raise InputError('target has unknown key %s (known: %s)' % (describe(key), ', '.join(TARGET_KEYS)))
    clients = {}
    if 'clients' in target:
        raw = target['clients']
        if not isinstance(raw, dict):
            raise InputError('target.clients must map client names to versions, got %s' % (
                got(raw)))
        for name, version in raw.items():
            if not isinstance(name, str):
                raise InputError('target.clients keys must be client names, got %s' % describe(name))
            if version is None:
                raise InputError('target.clients.%s is null: give the version it will run, or leave it out' % name)
            clients[name] = parse_version(version, 'target.clients.%s' % name)
    images = []
    if 'images' in target:
        if not isinstance(target['images'], list):
            raise InputError('target.images must be a list of {image, tag, available}, got %s' % (
                got(target['images'])))
        for i, entry in enumerate(target['images']):
            where = 'target.images[%d]' % i
            entry = as_dict(entry, where)
            unknown = [k for k in entry if k not in IMAGE_KEYS]
            if unknown:
                raise InputError('%s has unknown key(s) %s (known: %s)' % (
                    where, ', '.join(sorted(describe(k) for k in unknown)), ', '.join(IMAGE_KEYS)))
            missing = [k for k in ('image', 'tag', 'available') if entry.get(k) is None]
            if missing:
                raise InputError('%s needs %s (available: the tags registry_tag_info listed)' % (
                    where, ', '.join(missing)))
            image = as_str(entry['image'], where + '.image')
            if not image.strip():
                raise InputError('%s.image must name the image, got %s' % (where, describe(image)))
            allow = entry.get('allow_fallback', True)
            if not isinstance(allow, bool):
                raise InputError('%s.allow_fallback must be true or false, got %s' % (where, describe(allow)))
            available = as_list(entry['available'], where + '.available')
            if not all(isinstance(tag, str) for tag in available):
                raise InputError('%s.available must list tags (strings), got %s' % (where, describe(available)))
            images.append({'image': image, 'tag': check_tag(entry['tag'], where + '.tag'),
                           'available': available, 'allow_fallback': allow})
    family = target.get('package_family')
    if family is not None and (not isinstance(family, str) or family not in PACKAGE_FAMILIES):
        raise InputError('target.package_family is %s, not a package family: give one of %s' % (
            describe(family), ', '.join(sorted(PACKAGE_FAMILIES))))
    switch = target.get('package_family_switch', False)
    if not isinstance(switch, bool):
        raise InputError('target.package_family_switch must be true or false, got %s' % describe(switch))
    return {
        'engine': _target_version(target, 'engine'),
        'containerd': _target_version(target, 'containerd'),
        'clients': clients,
        'images': images,
        # the package family the operator asks for (None: whatever the host runs) and whether a switch is allowed
        'package_family': family,
        'package_family_switch': switch,
    }


def check_against(host, target):
    """What the target asks about must be in the facts; say which facts module is missing otherwise."""
    if not host.sections and (target['engine'] or target['containerd'] or target['clients'] or not target['images']):
        raise InputError('facts hold none of the sections %s: gather them first (fleetsafe.container_engine.'
                         'container_engine_facts) and pass ansible_facts.container_engine' % ', '.join(SECTIONS))
    if target['clients']:
        if not host.clients_gathered:
            raise InputError('target.clients names %s, but the clients facts were not gathered (run '
                             'fleetsafe.container_engine.clients_facts)' % ', '.join(sorted(target['clients'])))
        known = {client.name for client in host.clients}
        unknown = sorted(name for name in target['clients'] if name not in known)
        if unknown:
            raise InputError('target.clients names %s, which the clients facts do not show (known: %s)' % (
                ', '.join(unknown), ', '.join(sorted(known)) or 'none'))


def check_plannable(host, target):
    """A plan for a target engine or containerd needs what the host runs of it: without that section of the facts the
    plan would be empty ("nothing to do") for want of facts, not because nothing needs doing."""
    needs = (('engine', 'docker', 'docker_facts'), ('containerd', 'containerd', 'containerd_facts'))
    for key, section, module in needs:
        if target[key] is not None and section not in host.sections:
            raise InputError('target.%s is %s, but the %s facts were not gathered, so no step for the %s can be '
                             'planned (run fleetsafe.container_engine.%s or container_engine_facts)' % (
                                 key, describe(target[key].raw), section, key, module))
