# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rule engine behind the compat_findings, upgrade_plan and engine_api_range filters.

Input is ``ansible_facts.container_engine`` as docs/facts.md describes it (or the whole
``ansible_facts``), a target ({engine, containerd, clients}) and optional user knowledge.
Sections of the facts that are absent (a facts module that was not run) are skipped; inside a
present section every key this code reads must exist (the contract says they always do), so a
missing key is reported as an error instead of being guessed.

The predict_* helpers answer single questions the real-engine lab tests compare with reality.
"""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._tags import choose_tag
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    format_api,
    parse_api,
    parse_version,
)

SEVERITY_RANK = {'blocker': 0, 'warning': 1, 'info': 2}
ENV_SOURCES = ('environment', 'systemd_dropin')
OVERRIDE_SOURCES = ENV_SOURCES + ('daemon_json',)
TARGET_KEYS = ('engine', 'containerd', 'clients', 'images')
RUNC_SHIM = 'containerd-shim-runc-v2'
SHIM_ERROR = ('failed to create task for container: failed to start shim: start failed: '
              'unsupported shim version (%d): not implemented')


# ---------------------------------------------------------------------------------------------
# Reading the facts

def _describe(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _req(mapping, key, path):
    if key not in mapping:
        raise InputError('facts are missing key %s.%s (see docs/facts.md)' % (path, key))
    return mapping[key]


def _dict(value, path, optional=False):
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise InputError('%s must be a dict, got %s %s' % (path, type(value).__name__, _describe(value)))
    return value


def _list(value, path):
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError('%s must be a list, got %s %s' % (path, type(value).__name__, _describe(value)))
    return value


def _str(value, path):
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError('%s must be a string or null, got %s %s' % (path, type(value).__name__, _describe(value)))
    return value


def _bool(value, path):
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InputError('%s must be true, false or null, got %s' % (path, _describe(value)))
    return value


def _int(value, path):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError('%s must be an integer or null, got %s' % (path, _describe(value)))
    return value


def _version(value, path):
    text = _str(value, path)
    return parse_version(text, path) if text is not None else None


def _api(value, path):
    text = _str(value, path)
    return parse_api(text, path) if text is not None else None


def _split_image(ref):
    """``registry/ns/name:tag@sha256:...`` -> (name, tag or None)."""
    ref = ref.split('@', 1)[0]
    slash = ref.rfind('/')
    colon = ref.rfind(':')
    if colon > slash:
        return ref[:colon], ref[colon + 1:] or None
    return ref, None


class _Client:
    __slots__ = ('name', 'image', 'image_name', 'image_tag', 'api_env', 'declared_api')

    def __init__(self, name):
        self.name = name
        self.image = None
        self.image_name = None
        self.image_tag = None
        self.api_env = None
        self.declared_api = None


class _Host:
    """The facts, checked and parsed once."""

    def __init__(self, facts):
        facts = _dict(facts, 'facts')
        if 'container_engine' in facts:
            facts = _dict(facts['container_engine'], 'facts.container_engine')
        self.docker = self.containerd = self.rootless = None
        self.docker_error = None
        self.clients = []
        self.clients_gathered = False
        if facts.get('docker') is not None:
            self._read_docker(_dict(facts['docker'], 'docker'))
        if facts.get('containerd') is not None:
            self._read_containerd(_dict(facts['containerd'], 'containerd'))
        if facts.get('rootless') is not None:
            self._read_rootless(_dict(facts['rootless'], 'rootless'))
        if facts.get('clients') is not None:
            self._read_clients(_dict(facts['clients'], 'clients'))

    def _read_docker(self, d):
        p = 'docker'
        can_talk = _bool(_req(d, 'can_talk_to_docker', p), p + '.can_talk_to_docker')
        overrides = []
        for i, item in enumerate(_list(_req(d, 'min_api_overrides', p), p + '.min_api_overrides')):
            ip = '%s.min_api_overrides[%d]' % (p, i)
            item = _dict(item, ip)
            source = _str(_req(item, 'source', ip), ip + '.source')
            if source not in OVERRIDE_SOURCES:
                raise InputError('%s.source must be one of %s, got %s' % (
                    ip, ', '.join(OVERRIDE_SOURCES), _describe(source)))
            value = _str(_req(item, 'value', ip), ip + '.value')
            if value is None:
                raise InputError('%s.value must be the override as written, got null' % ip)
            overrides.append({'source': source, 'value': value, 'where': _str(item.get('where'), ip + '.where')})
        containers = _dict(_req(d, 'containers', p), p + '.containers', optional=True) or {}
        components = _dict(_req(d, 'components', p), p + '.components', optional=True) or {}
        rootlesskit = _dict(components.get('rootlesskit'), p + '.components.rootlesskit', optional=True) or {}
        self.docker = {
            'version': _version(_req(d, 'version', p), p + '.version'),
            'api_max': _api(_req(d, 'api_version', p), p + '.api_version'),
            'api_min': _api(_req(d, 'min_api_version', p), p + '.min_api_version'),
            'installed_version': _version(_req(d, 'installed_version', p), p + '.installed_version'),
            'stale': _bool(_req(d, 'stale', p), p + '.stale'),
            'storage_driver': _str(_req(d, 'storage_driver', p), p + '.storage_driver'),
            'live_restore': _bool(_req(d, 'live_restore', p), p + '.live_restore'),
            'running': _int(containers.get('running'), p + '.containers.running'),
            'overrides': overrides,
            'rootlesskit_version': _version(rootlesskit.get('version'), p + '.components.rootlesskit.version'),
        }
        if not can_talk:
            self.docker_error = _str(d.get('error'), p + '.error') or 'the Docker daemon did not answer'
            if self.docker['version'] is None:
                self.docker['unreachable'] = True

    def _read_containerd(self, d):
        p = 'containerd'
        shims = []
        for i, shim in enumerate(_list(_req(d, 'shims', p), p + '.shims')):
            sp = '%s.shims[%d]' % (p, i)
            shim = _dict(shim, sp)
            shims.append((_str(shim.get('name'), sp + '.name'), _version(shim.get('version'), sp + '.version')))
        accepted = _req(d, 'shim_protocol_accepted', p)
        if accepted is not None:
            accepted = [_int(x, p + '.shim_protocol_accepted[]')
                        for x in _list(accepted, p + '.shim_protocol_accepted')]
        self.containerd = {
            'installed': _bool(_req(d, 'installed', p), p + '.installed'),
            'installed_version': _version(_req(d, 'installed_version', p), p + '.installed_version'),
            'running': _bool(_req(d, 'running', p), p + '.running'),
            'running_version': _version(_req(d, 'running_version', p), p + '.running_version'),
            'exe_deleted': _bool(_req(d, 'exe_deleted', p), p + '.exe_deleted'),
            'restart_required': _bool(_req(d, 'restart_required', p), p + '.restart_required'),
            'restart_reasons': [_str(r, p + '.restart_reasons[]') or '' for r in
                                _list(_req(d, 'restart_reasons', p), p + '.restart_reasons')],
            'shims': shims,
            'accepted': accepted,
            'produced': _int(_req(d, 'shim_protocol_produced', p), p + '.shim_protocol_produced'),
            'config_version': _int(_req(d, 'config_version', p), p + '.config_version'),
        }

    def _read_rootless(self, d):
        p = 'rootless'
        daemons = []
        for i, item in enumerate(_list(_req(d, 'daemons', p), p + '.daemons')):
            ip = '%s.daemons[%d]' % (p, i)
            item = _dict(item, ip)
            user = _req(item, 'user', ip)
            daemons.append({
                'user': str(user) if user is not None else '?',
                'engine_version': _version(_req(item, 'engine_version', ip), ip + '.engine_version'),
                'port_driver': _str(_req(item, 'port_driver', ip), ip + '.port_driver'),
                'net_driver': _str(_req(item, 'net_driver', ip), ip + '.net_driver'),
                'rootlesskit_version': _version(_req(item, 'rootlesskit_version', ip), ip + '.rootlesskit_version'),
            })
        self.rootless = daemons

    def _read_clients(self, d):
        p = 'clients'
        self.clients_gathered = True
        by_name = {}
        for i, item in enumerate(_list(_req(d, 'socket_mounts', p), p + '.socket_mounts')):
            ip = '%s.socket_mounts[%d]' % (p, i)
            item = _dict(item, ip)
            name = _str(_req(item, 'name', ip), ip + '.name') or _str(item.get('id'), ip + '.id') or '#%d' % i
            client = by_name.setdefault(name, _Client(name))
            client.image = _str(_req(item, 'image', ip), ip + '.image')
            client.image_name = _str(_req(item, 'image_name', ip), ip + '.image_name')
            client.image_tag = _str(_req(item, 'image_tag', ip), ip + '.image_tag')
            client.api_env = _api(_req(item, 'api_version_env', ip), ip + '.api_version_env')
        for i, item in enumerate(_list(_req(d, 'declared', p), p + '.declared')):
            ip = '%s.declared[%d]' % (p, i)
            item = _dict(item, ip)
            name = _str(_req(item, 'name', ip), ip + '.name')
            if not name:
                raise InputError('%s.name must name the client' % ip)
            client = by_name.setdefault(name, _Client(name))
            client.declared_api = _api(item.get('api_version'), ip + '.api_version') or client.declared_api
            image = _str(item.get('image'), ip + '.image')
            if image and client.image_name is None:
                client.image = image
                client.image_name, client.image_tag = _split_image(image)
            if client.image_name is None and client.declared_api is None:
                raise InputError('%s needs api_version or image' % ip)
        self.clients = list(by_name.values())


def _target(target):
    if target is None:
        return {'engine': None, 'containerd': None, 'clients': {}, 'images': []}
    target = _dict(target, 'target')
    for key in target:
        if key not in TARGET_KEYS:
            raise InputError('target has unknown key %s (known: %s)' % (_describe(key), ', '.join(TARGET_KEYS)))
    clients = _dict(target.get('clients'), 'target.clients', optional=True) or {}
    parsed_clients = {}
    for name, version in clients.items():
        if not isinstance(name, str):
            raise InputError('target.clients keys must be client names, got %s' % _describe(name))
        parsed_clients[name] = parse_version(version, 'target.clients.%s' % name)
    images = []
    for i, entry in enumerate(_list(target.get('images') or [], 'target.images')):
        where = 'target.images[%d]' % i
        entry = _dict(entry, where)
        unknown = set(entry) - {'image', 'tag', 'available', 'allow_fallback'}
        if unknown:
            raise InputError('%s has unknown key(s) %s' % (where, ', '.join(sorted(map(str, unknown)))))
        missing = [k for k in ('image', 'tag', 'available') if entry.get(k) is None]
        if missing:
            raise InputError('%s needs %s (available: the tags registry_tag_info listed)' % (where, ', '.join(missing)))
        images.append({'image': _str(entry['image'], where + '.image'),
                       'tag': _str(entry['tag'], where + '.tag'),
                       'available': _list(entry['available'], where + '.available'),
                       'allow_fallback': entry.get('allow_fallback', True)})
    return {
        'engine': _version(target.get('engine'), 'target.engine'),
        'containerd': _version(target.get('containerd'), 'target.containerd'),
        'clients': parsed_clients,
        'images': images,
    }


# ---------------------------------------------------------------------------------------------
# Findings

def _finding(fid, severity, component, message, remedy, source):
    return {'id': fid, 'severity': severity, 'component': component, 'message': message,
            'remedy': remedy, 'source': source}


def _rule_source(kb, rule_id, fallback=''):
    rule = kb.rules.get(rule_id)
    return rule['source'] if rule else fallback


class _Range:
    """What an engine (running now, or the target) accepts."""

    __slots__ = ('label', 'row', 'api_max', 'api_min', 'rejects_too_new', 'env_floor', 'daemon_json', 'source')

    def __init__(self, label, row, api_max, api_min):
        self.label = label
        self.row = row
        self.api_max = api_max
        self.api_min = api_min
        self.rejects_too_new = row['rejects_too_new'] if row else True
        self.env_floor = row['_env_floor'] if row else None
        self.daemon_json = row['min_api_daemon_json'] if row else False
        self.source = row['source'] if row else 'facts: the running daemon\'s unversioned /version'


def _engine_line_label(version):
    """Engine lines 17.03 .. 20.10 are YY.MM with a two-digit month; later ones MAJOR.MINOR."""
    major, minor = version.line
    return ('%d.%02d' if 17 <= major <= 20 else '%d.%d') % (major, minor)


def _engine_row_or_error(kb, version, what):
    row = kb.engine_row(version)
    if row is None:
        raise InputError('%s %s: Engine line %s is not in the knowledge base (known lines %s); '
                         'add it with the knowledge argument' % (what, version.raw, _engine_line_label(version),
                                                                 kb.engine_known_lines()))
    return row


def _validate_override(row, source, value):
    """None if dockerd of this row starts with the override, else dockerd's complaint."""
    if source == 'daemon_json' and not row['min_api_daemon_json']:
        return "the following directives don't match any configuration option: min-api-version"
    if source in ENV_SOURCES and row['_env_floor'] is None:
        return None
    name = 'DOCKER_MIN_API_VERSION' if source in ENV_SOURCES else 'min-api-version'
    if value[:1] in ('v', 'V'):
        return 'invalid %s: API version must be provided without "v" prefix' % name
    try:
        api = parse_api(value)
    except InputError:
        return 'invalid %s: %r is not an API version' % (name, value)
    if api < row['_env_floor']:
        return 'invalid %s: minimum supported API version is %s: %s' % (name, format_api(row['_env_floor']), value)
    if api > row['_api_max']:
        return 'invalid %s: maximum supported API version is %s: %s' % (name, format_api(row['_api_max']), value)
    return None


def _persisting_overrides(overrides):
    """Overrides that survive a restart, one per (kind, value): the drop-in beats the live environment."""
    by_source = {source: [o for o in overrides if o['source'] == source] for source in OVERRIDE_SOURCES}
    env = by_source['systemd_dropin'] or by_source['environment']
    result = {}
    for item in env + by_source['daemon_json']:
        kind = 'env' if item['source'] in ENV_SOURCES else 'daemon_json'
        entry = result.setdefault((kind, item['value']),
                                  {'source': item['source'], 'value': item['value'], 'where': []})
        if item['where'] and item['where'] not in entry['where']:
            entry['where'].append(item['where'])
    return list(result.values())


class _Context:
    """Host + target + knowledge, with the ranges worked out once."""

    def __init__(self, facts, target, knowledge):
        self.kb = _kb.get(knowledge)
        self.host = _Host(facts)
        self.target = _target(target)
        kb = self.kb
        docker = self.host.docker
        self.current_engine = docker['version'] if docker else None
        self.installed_engine = (docker['installed_version'] or docker['version']) if docker else None
        self.current_row = kb.engine_row(self.current_engine) if self.current_engine else None
        self.current = None
        if docker and docker['api_max'] and docker['api_min']:
            label = self.current_engine.raw if self.current_engine else 'running engine'
            self.current = _Range(label, self.current_row, docker['api_max'], docker['api_min'])
        elif self.current_row is not None:
            self.current = _Range(self.current_engine.raw, self.current_row, self.current_row['_api_max'],
                                  self.current_row['_api_min'])
        self.target_row = None
        self.target_range = None
        self.override_problems = []     # (override entry, complaint) that stop the target dockerd
        self.override_ignored = []
        overrides = _persisting_overrides(docker['overrides']) if docker else []
        engine = self.target['engine']
        if engine is not None:
            self.target_row = _engine_row_or_error(kb, engine, 'target.engine')
            row = self.target_row
            api_min = row['_api_min']
            env_value = json_value = None
            for item in overrides:
                problem = _validate_override(row, item['source'], item['value'])
                if problem:
                    self.override_problems.append((item, problem))
                elif item['source'] in ENV_SOURCES and row['_env_floor'] is None:
                    self.override_ignored.append(item)
                elif item['source'] in ENV_SOURCES:
                    env_value = parse_api(item['value'])
                else:
                    json_value = parse_api(item['value'])
            chosen = [v for v in (env_value, json_value) if v is not None]
            if chosen and not self.override_problems:
                api_min = max(chosen)
            self.target_range = _Range(engine.raw, row, row['_api_max'], api_min)
        elif self.current_row is not None:
            for item in overrides:
                problem = _validate_override(self.current_row, item['source'], item['value'])
                if problem:
                    self.override_problems.append((item, problem))
        self.overrides = overrides

    @property
    def judged_range(self):
        return self.target_range or self.current


# --- clients ---------------------------------------------------------------------------------

def _client_api(kb, client, version=None):
    """(kind, data, how, row): kind is fixed | negotiates | unknown."""
    if client.api_env is not None:
        return 'fixed', client.api_env, 'DOCKER_API_VERSION=%s in its environment' % format_api(client.api_env), None
    if client.declared_api is not None:
        return 'fixed', client.declared_api, 'declared API %s in inventory' % format_api(client.declared_api), None
    if client.image_name:
        if version is None and client.image_tag:
            try:
                version = parse_version(client.image_tag)
            except InputError:
                version = None
        if version is not None and len(version.release) >= 3:
            row = kb.client_row(client.image_name, version)
            if row is not None:
                ref = '%s %s (knowledge base row %s)' % (client.image_name, version.raw, row['id'])
                if row['negotiates']:
                    return 'negotiates', (row['_api_min'], row['_api_max']), ref, row
                return 'fixed', row['_api'], ref, row
    return 'unknown', None, None, None


def _judge(kind, data, rng):
    """'ok', 'too_new', 'too_old' or 'unknown' for a client API against an engine range."""
    if kind == 'unknown' or rng is None:
        return 'unknown'
    if kind == 'fixed':
        if data > rng.api_max and rng.rejects_too_new:
            return 'too_new'
        if data < rng.api_min:
            return 'too_old'
        return 'ok'
    lowest, highest = data
    if highest is not None and highest < rng.api_min:
        return 'too_old'
    if lowest is not None and lowest > rng.api_max:
        return 'too_new'
    return 'ok'


def _client_versions_ok(kb, client, ranges):
    """Knowledge-base rows for this client's image whose API every range in ``ranges`` accepts."""
    rows = []
    for row in kb.client_rows(client.image_name or ''):
        kind = 'negotiates' if row['negotiates'] else 'fixed'
        data = (row['_api_min'], row['_api_max']) if row['negotiates'] else row['_api']
        if all(_judge(kind, data, rng) == 'ok' for rng in ranges):
            rows.append(row)
    return rows


def _client_findings(ctx):
    kb = ctx.kb
    rng = ctx.judged_range
    findings = []
    messages = kb.rules.get('api-version-messages')
    msg_source = messages['source'] if messages else ''
    for client in ctx.host.clients:
        new_version = ctx.target['clients'].get(client.name)
        kind, data, how, row = _client_api(kb, client, new_version)
        component = 'client:%s' % client.name
        who = client.name + (' (%s)' % client.image if client.image else '')
        if new_version is not None:
            who += ' at %s' % new_version.raw
        if kind == 'unknown':
            findings.append(_finding(
                'client_api_unknown', 'info', component,
                '%s talks to the Docker socket; which API version it speaks is not known (tag %s)' % (
                    who, _describe(client.image_tag)),
                'Pin the image to a release tag, declare the client with its api_version in the clients_facts '
                '`declared` option, or add a clients row with the knowledge argument.',
                'docs/facts.md (clients); knowledge base clients.yml'))
            continue
        if rng is None:
            continue
        verdict = _judge(kind, data, rng)
        source = '; '.join(s for s in ((row or {}).get('source'), rng.source, msg_source) if s)
        if verdict == 'too_new':
            api = data if kind == 'fixed' else data[0]
            first = kb.first_engine_line_serving(api)
            remedy = []
            if first is not None:
                remedy.append('upgrade the engine to %s or later' % first['line'])
            accepted = _client_versions_ok(kb, client, [rng])
            if accepted:
                remedy.append('run a %s release the engine accepts (%s)' % (
                    client.name, ', '.join('%s %s' % (client.image_name, r['versions']) for r in accepted)))
            if row and row.get('override'):
                remedy.append('or pin its API version to %s (%s)' % (format_api(rng.api_max), row['override']))
            findings.append(_finding(
                'client_api_too_new', 'blocker', component,
                '%s speaks API %s (%s); Engine %s serves at most %s: its calls fail with "client version %s is '
                'too new. Maximum supported API version is %s"' % (
                    who, format_api(api), how, rng.label, format_api(rng.api_max), format_api(api),
                    format_api(rng.api_max)),
                '; '.join(remedy) or 'Run a client that speaks API %s or older.' % format_api(rng.api_max),
                source))
        elif verdict == 'too_old':
            api = data if kind == 'fixed' else data[1]
            if rng.env_floor is not None and api >= rng.env_floor:
                help_text = ('an override could help: DOCKER_MIN_API_VERSION=%s is accepted by Engine %s (lowest '
                             'accepted value %s)' % (format_api(api), rng.label, format_api(rng.env_floor)))
            elif rng.env_floor is not None:
                help_text = ('no override can help: Engine %s accepts DOCKER_MIN_API_VERSION no lower than %s' % (
                    rng.label, format_api(rng.env_floor)))
            else:
                help_text = 'no override can help: Engine %s has no minimum-API override' % rng.label
            newer = _client_versions_ok(kb, client, [rng])
            remedy = []
            if newer:
                remedy.append('upgrade %s first (%s)' % (
                    client.name, ', '.join('%s %s' % (client.image_name, r['versions']) for r in newer)))
            else:
                remedy.append('upgrade %s to a release that speaks API %s or newer' % (
                    client.name, format_api(rng.api_min)))
            last = kb.last_engine_line_accepting(api)
            if last is not None and ctx.target_range is not None:
                remedy.append('or stay on Engine %s or older' % last['line'])
            if rng.env_floor is not None and api >= rng.env_floor:
                remedy.append('or set DOCKER_MIN_API_VERSION=%s in a docker.service drop-in as a stopgap' % (
                    format_api(api)))
            findings.append(_finding(
                'client_api_too_old', 'blocker', component,
                '%s speaks API %s (%s); Engine %s accepts %s and newer: its calls fail with "client version %s is too '
                'old. Minimum supported API version is %s, please upgrade your client to a newer version"; %s' % (
                    who, format_api(api), how, rng.label, format_api(rng.api_min), format_api(api),
                    format_api(rng.api_min), help_text),
                '; '.join(remedy), source))
    return findings


# --- engine ----------------------------------------------------------------------------------

def _override_findings(ctx):
    findings = []
    row = ctx.target_row or ctx.current_row
    if row is None:
        return findings
    label = ctx.target['engine'].raw if ctx.target['engine'] else ctx.current_engine.raw
    for item, problem in ctx.override_problems:
        where = ', '.join(item['where']) or item['source']
        unknown_key = 'directives' in problem
        rule = ctx.kb.rule('daemon-json-unknown-key' if unknown_key else 'min-api-override')
        if rule is None:
            continue
        source = rule['source']
        fid = 'min_api_override_unsupported' if unknown_key else 'min_api_override_invalid'
        findings.append(_finding(
            fid, 'blocker', 'engine',
            'dockerd %s would refuse to start with the minimum-API override %s=%s (%s): "%s"' % (
                label, 'min-api-version' if item['source'] == 'daemon_json' else 'DOCKER_MIN_API_VERSION',
                item['value'], where, problem),
            'Upgrade the clients that needed the override first, then remove it from %s (or set it to a value '
            'Engine %s accepts) before restarting dockerd.' % (where, label),
            source))
    for item in ctx.override_ignored:
        findings.append(_finding(
            'min_api_override_ignored', 'info', 'engine',
            'DOCKER_MIN_API_VERSION=%s (%s) has no effect on Engine %s: the variable is read from 25.0 on' % (
                item['value'], ', '.join(item['where']) or item['source'], label),
            'Remove it, or keep it only if the host will move to 25.0 or later and still needs it.',
            _rule_source(ctx.kb, 'min-api-override')))
    return findings


def _engine_findings(ctx):
    kb = ctx.kb
    docker = ctx.host.docker
    findings = []
    if docker is None:
        return findings
    if ctx.host.docker_error:
        findings.append(_finding(
            'engine_facts_unavailable', 'info', 'engine',
            'Docker facts are incomplete: %s' % ctx.host.docker_error,
            'Check that dockerd runs and that the facts module can reach its socket, then gather facts again.',
            'docs/facts.md (docker.can_talk_to_docker)'))
    running, installed = docker['version'], docker['installed_version']
    stale = docker['stale'] or (running is not None and installed is not None and running < installed)
    rule = kb.rule('engine-package-no-restart')
    if stale and rule is not None:
        findings.append(_finding(
            'engine_stale', 'warning', 'engine',
            'dockerd still runs %s although %s is installed: the upgrade is not finished until docker restarts' % (
                running.raw if running else 'an older version', installed.raw if installed else 'a newer version'),
            'Restart docker (systemctl restart docker) in a maintenance window; with live-restore off its '
            'containers restart too.',
            rule['source']))
    target = ctx.target['engine']
    # storage driver
    driver = docker['storage_driver']
    check_version = target or running
    if driver and check_version is not None and driver in kb.storage_drivers:
        row = kb.storage_drivers[driver]
        if row['_removed_in'] is not None and check_version >= row['_removed_in']:
            findings.append(_finding(
                'storage_driver_removed', 'blocker', 'engine',
                'the daemon uses the %s storage driver, which Engine %s removed (from %s): dockerd %s cannot use '
                'the existing images and containers' % (
                    driver, row['removed_in'], row['removed_in'], check_version.raw),
                'Migrate to %s (export or rebuild images, recreate containers) before upgrading to %s or later.' % (
                    row['replacement'], row['removed_in']),
                row['source']))
        elif row['_deprecated_in'] is not None and check_version >= row['_deprecated_in']:
            findings.append(_finding(
                'storage_driver_deprecated', 'warning', 'engine',
                'the %s storage driver is deprecated since Engine %s%s' % (
                    driver, row['deprecated_in'],
                    ' and removed in %s' % row['removed_in'] if row['removed_in'] else ''),
                'Plan a migration to %s.' % row['replacement'], row['source']))
    # live restore across a minor or major change
    if target is not None and running is not None and target.line != running.line:
        rule = kb.rule('live-restore-patch-only')
        count = docker['running']
        if rule is not None and docker['live_restore']:
            findings.append(_finding(
                'live_restore_not_covering', 'warning', 'engine',
                'live-restore is on, but it is promised only across patch releases: %s -> %s changes the %s '
                'version, so expect the %s running containers to restart' % (
                    running.raw, target.raw, 'major' if target.line[0] != running.line[0] else 'minor',
                    count if count is not None else 'host\'s'),
                'Treat the upgrade as a restart of every container: drain or schedule it like one.',
                rule['source']))
        elif rule is not None and docker['live_restore'] is False and count:
            findings.append(_finding(
                'engine_restart_stops_containers', 'info', 'engine',
                'live-restore is off: restarting dockerd for %s stops and restarts the %d running containers' % (
                    target.raw, count),
                'Schedule the restart, or drain the host first.', rule['source']))
    return findings


def _condition_matches(when, daemon, docker):
    """True / False, or None when the facts needed are missing."""
    for cond, expected in when.items():
        if cond == 'storage_driver':
            value = docker['storage_driver'] if docker else None
        elif daemon is None:
            return None
        else:
            value = daemon['port_driver'] if cond == 'rootless_port_driver' else daemon['net_driver']
        if value is None:
            return None
        if value not in expected:
            return False
    return True


def _known_bad_findings(ctx):
    kb = ctx.kb
    host = ctx.host
    docker = host.docker
    findings = []
    target = ctx.target['engine']

    def rootless_needed(row):
        return any(cond.startswith('rootless') for cond in row['_when'])

    def emit(row, version, subject, component, line_only=False):
        shown = version.raw
        if line_only:
            shown += ' (evaluated as %s.%s.0: pin a patch release)' % version.line
        findings.append(_finding(
            'known_bad_release', row['severity'], component,
            '[%s] %s %s is known to break%s: %s%s' % (
                row['id'], row['component'], shown,
                ' ' + subject if subject else '', row['symptom'],
                '; fixed in %s' % row['fixed_in'] if row['fixed_in'] else ''),
            row['remedy'], row['source']))

    def check(component_rows, version, versions_of_daemons, label):
        line_only = len(version.release) == 2
        probe = parse_version('%d.%d.0' % version.line) if line_only else version
        for row in component_rows:
            if not row['_when'] or not rootless_needed(row):
                if row['_spec'].contains(probe):
                    matched = _condition_matches(row['_when'], None, docker) if row['_when'] else True
                    if matched:
                        emit(row, version, '', label, line_only)
                continue
            if host.rootless is None:
                if row['_spec'].contains(probe):
                    findings.append(_finding(
                        'known_bad_unverified', 'info', label,
                        '[%s] %s %s breaks hosts with %s; rootless facts were not gathered, so this host was not '
                        'checked' % (row['id'], row['component'], version.raw,
                                     ', '.join('%s=%s' % (k, '|'.join(sorted(v))) for k, v in row['_when'].items())),
                        'Run fleetsafe.container_engine.rootless_facts, or make sure no rootless daemon uses that '
                        'configuration. ' + row['remedy'],
                        row['source']))
                continue
            for daemon in host.rootless:
                own = versions_of_daemons(daemon)
                if own is None or not row['_spec'].contains(probe if own is version else own):
                    continue
                if _condition_matches(row['_when'], daemon, docker):
                    emit(row, own, 'for rootless user %s' % daemon['user'], 'rootless:%s' % daemon['user'],
                         line_only and own is version)

    engine_rows = kb.known_bad['engine']
    if target is not None:
        check(engine_rows, target, lambda daemon: target, 'engine')
    else:
        # rootful rows against the system daemon, rootless rows against each daemon's own version
        running = docker['version'] if docker else None
        rootless_rows = [r for r in engine_rows if rootless_needed(r)]
        if running is not None:
            check([r for r in engine_rows if not rootless_needed(r)], running, lambda daemon: None, 'engine')
        if host.rootless is None and running is not None:
            check(rootless_rows, running, lambda daemon: running, 'engine')
        elif host.rootless is not None:
            check(rootless_rows, running or parse_version('0.0.0'),
                  lambda daemon: daemon['engine_version'] or running, 'engine')
    kit_rows = kb.known_bad['rootlesskit']
    if kit_rows and host.rootless:
        for daemon in host.rootless:
            kit = daemon['rootlesskit_version'] or (docker['rootlesskit_version'] if docker else None)
            if kit is None:
                continue
            for row in kit_rows:
                if row['_spec'].contains(kit) and _condition_matches(row['_when'], daemon, docker):
                    emit(row, kit, 'for rootless user %s' % daemon['user'], 'rootless:%s' % daemon['user'])
    containerd_rows = kb.known_bad['containerd']
    if containerd_rows:
        version = ctx.target['containerd'] or (host.containerd['installed_version'] if host.containerd else None)
        if version is not None:
            check(containerd_rows, version, lambda daemon: version, 'containerd')
    return findings


# --- containerd ------------------------------------------------------------------------------

def _shim_version(c):
    for name, version in c['shims']:
        if name == RUNC_SHIM and version is not None:
            return version
    return c['installed_version']


def _containerd_findings(ctx):
    kb = ctx.kb
    c = ctx.host.containerd
    findings = []
    if c is None:
        return findings
    restart_rule = kb.rule('containerd-restart-after-upgrade')
    running, installed = c['running_version'], c['installed_version']
    running_row = kb.containerd_row(running) if running else None
    shim = _shim_version(c)
    shim_row = kb.containerd_row(shim) if shim else None
    accepted = running_row['shim_protocol_accepted'] if running_row else c['accepted']
    produced = shim_row['shim_protocol_produced'] if shim_row else c['produced']
    mismatch = bool(c['running'] and accepted and produced is not None and produced not in accepted)
    if mismatch and restart_rule is not None:
        if produced >= 2 and max(accepted) >= 2:
            symptom = 'every new container start fails with "%s"' % (SHIM_ERROR % produced)
        else:
            symptom = 'the daemon cannot read the JSON bootstrap answer of the new shim, so new container starts fail'
        findings.append(_finding(
            'containerd_shim_protocol_mismatch', 'blocker', 'containerd',
            'containerd %s is still running, but the installed runc shim (%s) answers with bootstrap protocol %d, '
            'which a running %s daemon does not accept (it accepts %s): %s; running containers keep running, a '
            'restarted one stays Exited (128)' % (
                running.raw if running else '(running version unknown)', shim.raw if shim else 'unknown version',
                produced, '%d.%d' % running.line if running else 'containerd', ', '.join(str(x) for x in accepted),
                symptom),
            'Restart containerd now (systemctl restart containerd), then docker if it does not recover.',
            '%s; %s' % (restart_rule['source'], running_row['source'] if running_row else 'facts')))
    elif restart_rule is not None and c['running'] and (
            c['restart_required'] or c['exe_deleted']
            or (running is not None and installed is not None and running != installed)):
        reasons = [r for r in c['restart_reasons'] if r]
        if not reasons and running is not None and installed is not None and running != installed:
            reasons.append('running %s != installed %s' % (running.raw, installed.raw))
        if not reasons and c['exe_deleted']:
            reasons.append('binary replaced')
        findings.append(_finding(
            'containerd_restart_required', 'warning', 'containerd',
            'containerd needs a restart to run what is installed (%s)' % ('; '.join(reasons) or 'restart_required'),
            'Restart containerd (systemctl restart containerd) in a maintenance window.',
            restart_rule['source']))
    target = ctx.target['containerd']
    start = installed or running
    if target is None or start is None:
        return findings
    target_row = kb.containerd_row(target)
    if target_row is None:
        known = ', '.join(sorted(row['line'] for row in kb.containerd_rows.values()))
        raise InputError('target.containerd %s: containerd line %d.%d is not in the knowledge base (known lines %s); '
                         'add it with the knowledge argument' % (target.raw, target.line[0], target.line[1], known))
    if target < start:
        rule = kb.rule('containerd-downgrade-kills-containers')
        if rule is not None and target.line < start.line:
            findings.append(_finding(
                'containerd_downgrade', 'warning', 'containerd',
                'moving containerd from %s down to %s: a downgrade stopped every running container on the lab '
                '(Exited (137)) and orphaned their shims' % (start.raw, target.raw),
                'Record what runs, downgrade in a maintenance window, then start those containers again.',
                rule['source']))
        return findings
    start_row = kb.containerd_row(start)
    path_rule = kb.rule('containerd-upgrade-path')
    if start_row is None:
        findings.append(_finding(
            'containerd_unknown_line', 'info', 'containerd',
            'containerd %s is on a line the knowledge base does not describe; the upgrade path to %s is not checked' % (
                start.raw, target.raw),
            'Add the line with the knowledge argument.', _rule_source(kb, 'containerd-upgrade-path')))
    elif path_rule is not None and target.line != start.line:
        path = kb.containerd_path(start.line, target.line)
        if path is None:
            findings.append(_finding(
                'containerd_no_upgrade_path', 'blocker', 'containerd',
                'no supported upgrade path from containerd %s to %s in the knowledge base' % (start.raw, target.raw),
                'Check containerd RELEASES.md and the release notes; add the path with the knowledge argument.',
                path_rule['source']))
        elif len(path) > 1:
            findings.append(_finding(
                'containerd_skipped_minor', 'warning', 'containerd',
                'containerd %s -> %s skips %s: upgrades are supported from the previous minor only' % (
                    start.raw, target.raw, ', '.join('%d.%d' % line for line in path[:-1])),
                'Upgrade one line at a time (%s), restarting containerd after each; upgrade_plan lists the steps.' % (
                    ' -> '.join(['%d.%d' % start.line] + ['%d.%d' % line for line in path])),
                path_rule['source']))
    if restart_rule is not None and c['running'] and running is not None:
        run_row = kb.containerd_row(running)
        if run_row and target_row['shim_protocol_produced'] not in run_row['shim_protocol_accepted']:
            findings.append(_finding(
                'containerd_restart_with_upgrade', 'warning', 'containerd',
                'between installing containerd %s and restarting it, the running %s daemon cannot start the new shim: '
                'every new container start fails with "%s"' % (
                    target.raw, running.raw, SHIM_ERROR % target_row['shim_protocol_produced']),
                'Restart containerd in the same step as the package upgrade (Debian\'s postinst does unless '
                'policy-rc.d forbids it; the docker_engine role always does).',
                restart_rule['source']))
    migration = kb.rule('containerd-config-migration')
    if migration and c['config_version'] == 2 and target.line >= (2, 0) and start.line < (2, 0):
        findings.append(_finding(
            'containerd_config_migration', 'info', 'containerd',
            'config.toml is version 2; containerd %s migrates it to version 3 on start' % target.raw,
            'Fix deprecation warnings of the current containerd first; migrate the file with `containerd config '
            'migrate` once the upgrade is done.', migration['source']))
    return findings


def _image_tag_findings(ctx):
    """Incident 3: an image tag the change needs that its registry does not have.

    target.images: [{image, tag, available (the tags registry_tag_info listed), allow_fallback}]
    """
    findings = []
    for entry in ctx.target['images']:
        try:
            choice = choose_tag(entry['tag'], entry['available'], entry['allow_fallback'], image=entry['image'])
        except InputError as exc:
            raise InputError('target.images %s: %s' % (entry['image'], exc)) from exc
        if choice['finding']:
            findings.append(choice['finding'])
    return findings


CHECKS = (_engine_findings, _override_findings, _client_findings, _containerd_findings, _known_bad_findings,
          _image_tag_findings)


def compat_findings(facts, target=None, knowledge=None):
    ctx = _Context(facts, target, knowledge)
    findings = []
    for check in CHECKS:
        findings.extend(check(ctx))
    findings.sort(key=lambda f: (SEVERITY_RANK[f['severity']], f['component'], f['id']))
    return findings


# ---------------------------------------------------------------------------------------------
# Upgrade plan

def _step(action, component, from_, to, reason):
    return {'order': 0, 'action': action, 'component': component, 'from': from_, 'to': to, 'reason': reason}


def upgrade_plan(facts, target=None, knowledge=None):
    ctx = _Context(facts, target, knowledge)
    kb = ctx.kb
    host = ctx.host
    before, containerd_steps, engine_steps, after = [], [], [], []
    engine_target = ctx.target['engine']
    engine_changes = (engine_target is not None and ctx.installed_engine is not None and not (
        ctx.installed_engine.line == engine_target.line if len(engine_target.release) == 2
        else ctx.installed_engine.release == engine_target.release and ctx.installed_engine.pre == engine_target.pre))
    if engine_target is not None and ctx.installed_engine is None and host.docker is not None:
        engine_changes = True
    old, new = ctx.current, (ctx.target_range if engine_changes else ctx.current)

    # 1. clients: those the target engine rejects go first when their new release works on both engines
    for client in host.clients:
        new_version = ctx.target['clients'].get(client.name)
        kind_now, data_now, _how, _row = _client_api(kb, client)
        current_tag = client.image_tag
        component = 'client:%s' % client.name
        if new_version is not None:
            if new_version.raw == current_tag:
                continue
            kind_new, data_new, how_new, _row = _client_api(kb, client, new_version)
            ok_old = _judge(kind_new, data_new, old) == 'ok' if old else True
            ok_new = _judge(kind_new, data_new, new) == 'ok' if new else True
            if ok_old:
                before.append(_step('upgrade_client', component, current_tag, new_version.raw,
                                    '%s %s works with the current and the target engine (%s)' % (
                                        client.name, new_version.raw, how_new or 'API not known')))
            elif ok_new:
                after.append(_step('upgrade_client', component, current_tag, new_version.raw,
                                   '%s %s needs the new engine; %s' % (
                                       client.name, new_version.raw,
                                       'it keeps working until then' if _judge(kind_now, data_now, new) == 'ok'
                                       else 'it is down between the engine restart and this step')))
            continue
        if not engine_changes or _judge(kind_now, data_now, new) not in ('too_old', 'too_new'):
            continue
        both = _client_versions_ok(kb, client, [r for r in (old, new) if r is not None])
        later = _client_versions_ok(kb, client, [new]) if new else []
        if both:
            bound = both[-1]['_spec'].lower_bound()
            best = both[-1]
            before.append(_step('upgrade_client', component, current_tag, bound.raw if bound else best['versions'],
                                'Engine %s rejects %s as it is; %s %s works with both engines (%s)' % (
                                    new.label, client.name, client.image_name, best['versions'], best['source'])))
        elif later:
            bound = later[-1]['_spec'].lower_bound()
            after.append(_step('upgrade_client', component, current_tag, bound.raw if bound else later[-1]['versions'],
                               'no %s release works with both engines: upgrade it right after the engine; it is down '
                               'in between (%s)' % (client.name, later[-1]['source'])))

    # 2. overrides the target dockerd would refuse to start with; overrides a remaining client needs
    if engine_changes:
        for item, problem in ctx.override_problems:
            before.append(_step('remove_min_api_override', 'engine', item['value'], None,
                                'dockerd %s would refuse to start: %s (%s)' % (
                                    engine_target.raw, problem, ', '.join(item['where']) or item['source'])))
    # 3. containerd
    c = host.containerd
    target_c = ctx.target['containerd']
    if c is not None:
        installed, running = c['installed_version'], c['running_version']
        start = installed or running
        restart_now = c['running'] and (c['restart_required'] or c['exe_deleted'] or (
            running is not None and installed is not None and running != installed))
        changes = target_c is not None and start is not None and not (
            start.line == target_c.line if len(target_c.release) == 2 else start.release == target_c.release)
        if restart_now and not changes:
            containerd_steps.append(_step('restart_containerd', 'containerd', running.raw if running else None,
                                          installed.raw if installed else None,
                                          'the running daemon is older than the installed package (%s)' % (
                                              '; '.join(r for r in c['restart_reasons'] if r) or 'restart required')))
        if changes:
            if kb.containerd_row(target_c) is None:
                raise InputError('target.containerd %s: containerd line %d.%d is not in the knowledge base' % (
                    target_c.raw, target_c.line[0], target_c.line[1]))
            path = kb.containerd_path(start.line, target_c.line) if target_c.line > start.line else None
            hops = path if path else [target_c.line]
            previous = start.raw
            for index, line in enumerate(hops):
                last = index == len(hops) - 1
                to = target_c.raw if last else '%d.%d' % line
                reason = ('supported upgrade path: from the previous minor only' if len(hops) > 1
                          else 'target containerd version')
                if target_c.line < start.line:
                    reason = 'downgrade: running containers are stopped; start them again afterwards'
                containerd_steps.append(_step('upgrade_containerd', 'containerd', previous, to,
                                              reason + ('' if last else ' (latest %s patch release)' % to)))
                containerd_steps.append(_step('restart_containerd', 'containerd', previous, to,
                                              'a running containerd keeps its old version; a 1.x daemon cannot start '
                                              'the 2.x shim until restarted'))
                previous = to
    # 4. engine
    docker = host.docker
    if docker is not None:
        if engine_changes:
            engine_steps.append(_step('upgrade_engine', 'engine',
                                      ctx.installed_engine.raw if ctx.installed_engine else None,
                                      engine_target.raw, 'target engine version'))
            engine_steps.append(_step('restart_engine', 'engine', docker['version'].raw if docker['version'] else None,
                                      engine_target.raw, 'the package upgrade does not restart dockerd'))
            for daemon in host.rootless or []:
                engine_steps.append(_step('restart_rootless_engine', 'rootless:%s' % daemon['user'],
                                          daemon['engine_version'].raw if daemon['engine_version'] else None,
                                          engine_target.raw,
                                          'the user\'s docker.service keeps running the old dockerd until restarted'))
        elif docker['stale'] or (docker['version'] is not None and docker['installed_version'] is not None
                                 and docker['version'] < docker['installed_version']):
            engine_steps.append(_step('restart_engine', 'engine', docker['version'].raw if docker['version'] else None,
                                      docker['installed_version'].raw if docker['installed_version'] else None,
                                      'dockerd runs an older version than the installed package'))
    steps = before + containerd_steps + engine_steps + after
    if steps:
        steps.append(_step('verify', 'host', None, None,
                           'gather facts again: compat_findings must return no blocker, containerd and dockerd must '
                           'run the installed versions, every client must answer'))
    for index, step in enumerate(steps, 1):
        step['order'] = index
    return steps


# ---------------------------------------------------------------------------------------------
# Single questions (the lab's truth tests compare these with real daemons)

def engine_api_range(version, knowledge=None):
    kb = _kb.get(knowledge)
    parsed = parse_version(version, 'engine version')
    row = _engine_row_or_error(kb, parsed, 'engine version')
    return {
        'line': row['line'],
        'max': row['api_max'],
        'min': row['api_min_default'],
        'min_override_floor': row['min_api_env_floor'],
        'min_override_env': row['min_api_env_floor'] is not None,
        'min_override_daemon_json': row['min_api_daemon_json'],
        'rejects_too_new': row['rejects_too_new'],
        'source': row['source'],
    }


def predict_api_accepted(engine_version, api_version, knowledge=None, min_override=None):
    """Would an Engine ``engine_version`` daemon answer a request made with ``api_version``?

    ``min_override`` is a DOCKER_MIN_API_VERSION value the daemon started with (it must be one the
    daemon accepts; see predict_min_api_override_valid).
    """
    kb = _kb.get(knowledge)
    row = _engine_row_or_error(kb, parse_version(engine_version, 'engine version'), 'engine version')
    api = parse_api(api_version)
    api_min = row['_api_min']
    if min_override is not None:
        problem = _validate_override(row, 'environment', min_override)
        if problem:
            raise InputError('engine %s would not start with DOCKER_MIN_API_VERSION=%s: %s' % (
                engine_version, min_override, problem))
        if row['_env_floor'] is not None:
            api_min = parse_api(min_override)
    if api < api_min:
        return False
    return not (api > row['_api_max'] and row['rejects_too_new'])


def predict_min_api_override_valid(engine_version, value, knowledge=None, source='environment'):
    """Would dockerd ``engine_version`` start with this minimum-API override?

    Returns {'starts': bool, 'applies': bool, 'error': str or None}; ``applies`` is false when the
    engine ignores the setting (DOCKER_MIN_API_VERSION before 25.0).
    """
    if source not in OVERRIDE_SOURCES:
        raise InputError('source must be one of %s, got %s' % (', '.join(OVERRIDE_SOURCES), _describe(source)))
    if not isinstance(value, str):
        raise InputError('override value must be a string like "1.24", got %s' % _describe(value))
    kb = _kb.get(knowledge)
    row = _engine_row_or_error(kb, parse_version(engine_version, 'engine version'), 'engine version')
    problem = _validate_override(row, source, value)
    applies = problem is None and not (source in ENV_SOURCES and row['_env_floor'] is None)
    return {'starts': problem is None, 'applies': applies, 'error': problem}
