# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The knowledge base: loading, validating, merging user knowledge over it, and indexing it.

The built-in rows live in ``data/knowledge_base/*.yml`` at the collection root.  Each file maps
section names to lists of rows; every row names its ``source``.  Users pass a dict of the same
shape (the filters' ``knowledge`` argument): a row whose key matches a built-in row updates that
row's fields, any other row is added (and must be complete).  Every row of every section may carry
``enabled: false`` (in the files or from inventory): the one way to switch a row off.  An upgrade
rule that findings rely on cannot be switched off (plugin_utils/_findings/_registry.py says which
findings to switch off instead).
"""

from __future__ import annotations

import copy
import json
import os
from collections import deque
from functools import lru_cache

import yaml

# libyaml's safe loader where PyYAML has it (15 times faster on the knowledge base: every Ansible worker that
# judges loads it once), the pure-Python one otherwise; both build the same data.
try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    describe,
    got,
    parse_api,
    parse_spec,
    parse_version,
)

KB_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'data', 'knowledge_base'
)

_STR = (str,)
_OPT_STR = (str, type(None))
_BOOL = (bool,)

# section -> (key field, {field: (types, required, kind)})
# kind: api | version | spec | line | lines | protocols | protocol | when | severity | None
SCHEMA = {
    'engines': ('line', {
        'line': (_STR, True, 'line'),
        'api_max': (_STR, True, 'api'),
        'api_min_default': (_STR, True, 'api'),
        'min_api_env_floor': (_OPT_STR, True, 'api'),
        'min_api_daemon_json': (_BOOL, True, None),
        'rejects_too_new': (_BOOL, True, None),
        'lab': (_STR, False, None),
        'note': (_STR, False, None),
        'source': (_STR, True, None),
    }),
    'containerd': ('line', {
        'line': (_STR, True, 'line'),
        'shim_protocol_accepted': ((list,), True, 'protocols'),
        'shim_protocol_produced': ((int,), True, 'protocol'),
        'upgrades_from': ((list,), True, 'lines'),
        'lab': (_STR, False, None),
        'note': (_STR, False, None),
        'source': (_STR, True, None),
    }),
    'known_bad': ('id', {
        'id': (_STR, True, None),
        'component': (_STR, True, 'component'),
        'versions': (_STR, True, 'spec'),
        'when': ((dict,), False, 'when'),
        'severity': (_STR, True, 'severity'),
        'fixed_in': (_OPT_STR, True, 'version'),
        'symptom': (_STR, True, None),
        'remedy': (_STR, True, None),
        'lab': (_STR, False, None),
        'note': (_STR, False, None),
        'source': (_STR, True, None),
    }),
    'storage_drivers': ('driver', {
        'driver': (_STR, True, None),
        'deprecated_in': (_OPT_STR, True, 'line'),
        'disabled_by_default_in': (_OPT_STR, False, 'line'),
        'removed_in': (_OPT_STR, True, 'line'),
        'replacement': (_STR, True, None),
        'lab': (_STR, False, None),
        'note': (_STR, False, None),
        'source': (_STR, True, None),
    }),
    'daemon_options': ('id', {
        'id': (_STR, True, None),
        'where': (_STR, True, 'where'),
        'setting': (_STR, True, None),
        'deprecated_in': (_OPT_STR, True, 'line'),
        'ignored_in': (_OPT_STR, False, 'line'),
        'refused_in': (_OPT_STR, True, 'line'),
        'unknown_in': (_OPT_STR, False, 'line'),
        'harmless_values': ((list,), False, 'values'),
        'validate_detects': (_BOOL, True, None),
        'message': (_STR, False, None),
        'replacement': (_OPT_STR, True, None),
        'removable': (_BOOL, False, None),
        'remedy': (_STR, True, None),
        'lab': (_STR, False, None),
        'note': (_STR, False, None),
        'source': (_STR, True, None),
    }),
    'clients': ('id', {
        'id': (_STR, True, None),
        'name': (_STR, True, None),
        'aliases': ((list,), False, 'names'),
        'images': ((list,), False, 'images'),
        'versions': (_STR, True, 'spec'),
        'api_version': (_OPT_STR, False, 'api'),
        'negotiates': (_BOOL, True, None),
        'api_min': (_OPT_STR, False, 'api'),
        'api_max': (_OPT_STR, False, 'api'),
        'override': (_STR, False, None),
        'fixed_in': (_OPT_STR, False, 'version'),
        'note': (_STR, False, None),
        'source': (_STR, True, None),
    }),
    'upgrade_rules': ('id', {
        'id': (_STR, True, None),
        'summary': (_STR, True, None),
        'source': (_STR, True, None),
    }),
}

for _key_field, _fields in SCHEMA.values():
    _fields['enabled'] = (_BOOL, False, None)   # every row: enabled: false switches it off

WHEN_KEYS = ('rootless_port_driver', 'rootless_net_driver', 'storage_driver', 'container', 'kernel_module_missing',
             'firewalld')
HOST_WHEN_KEYS = frozenset(('container', 'kernel_module_missing', 'firewalld'))   # conditions read from docker.host
FIREWALLD_STATES = ('active', 'inactive')
SEVERITIES = ('blocker', 'warning', 'info')
COMPONENTS = ('engine', 'containerd', 'rootlesskit', 'runc')
OPTION_PLACES = ('daemon_json', 'flag', 'storage_opt', 'log_driver', 'log_opt', 'storage_driver_plugin', 'listen',
                 'environment')


def _err(where, message):
    return InputError('%s: %s' % (where, message))


def _check_field(where, field, value, types, kind):
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise _err(where, 'field %r must be %s, got %s' % (
            field, ' or '.join('null' if t is type(None) else t.__name__ for t in types), describe(value)))
    if value is None or kind is None:
        return
    if kind == 'api':
        parse_api(value, '%s field %r' % (where, field))
    elif kind == 'version':
        parse_version(value, '%s field %r' % (where, field))
    elif kind == 'line':
        parse_version(value, '%s field %r' % (where, field))
    elif kind == 'spec':
        parse_spec(value, '%s field %r' % (where, field))
    elif kind == 'lines':
        for item in value:
            if not isinstance(item, str):
                raise _err(where, 'field %r must list version strings, got %s' % (field, describe(item)))
            parse_version(item, '%s field %r' % (where, field))
    elif kind in ('protocols', 'protocol'):
        items = value if kind == 'protocols' else [value]
        if not items or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 100 for i in items):
            raise _err(where, 'field %r must hold protocol numbers (1, 2, 3 ...), got %s' % (field, describe(value)))
    elif kind == 'images':
        if not value or not all(isinstance(i, str) and i.strip() for i in value):
            raise _err(where, 'field %r must list image names, got %s' % (field, describe(value)))
    elif kind == 'names':
        if not value or not all(isinstance(i, str) and i.strip() for i in value):
            raise _err(where, 'field %r must list names, got %s' % (field, describe(value)))
    elif kind == 'severity':
        if value not in SEVERITIES:
            raise _err(where, 'field %r must be one of %s, got %s' % (field, ', '.join(SEVERITIES), describe(value)))
    elif kind == 'component':
        if value not in COMPONENTS:
            raise _err(where, 'field %r must be one of %s, got %s' % (field, ', '.join(COMPONENTS), describe(value)))
    elif kind == 'where':
        if value not in OPTION_PLACES:
            raise _err(where, 'field %r must be one of %s, got %s' % (field, ', '.join(OPTION_PLACES), describe(value)))
    elif kind == 'values':
        if not all(isinstance(v, str) for v in value):
            raise _err(where, 'field %r must list strings, got %s' % (field, describe(value)))
    elif kind == 'when':
        for cond, expected in value.items():
            if cond not in WHEN_KEYS:
                raise _err(where, 'field "when" has unknown condition %r (known: %s)' % (cond, ', '.join(WHEN_KEYS)))
            values = expected if isinstance(expected, list) else [expected]
            if not values or not all(isinstance(v, str) for v in values):
                raise _err(where, 'condition %r must be a string or a list of strings, got %s' % (
                    cond, describe(expected)))
            if cond == 'firewalld' and not set(values) <= set(FIREWALLD_STATES):
                raise _err(where, 'condition "firewalld" must be %s, got %s' % (
                    ' or '.join(FIREWALLD_STATES), describe(expected)))


def validate_row(section, row, where):
    """Check one complete row against the schema; raise InputError naming the row and field."""
    if not isinstance(row, dict):
        raise _err(where, 'a row must be a mapping, got %s' % describe(row))
    fields = SCHEMA[section][1]
    for field in row:
        if field not in fields:
            raise _err(where, 'unknown field %r (known: %s)' % (field, ', '.join(fields)))
    for field, (types, required, field_kind) in fields.items():
        if field not in row:
            if required:
                raise _err(where, 'missing field %r' % field)
            continue
        _check_field(where, field, row[field], types, field_kind)
    if not row['source'].strip():
        raise _err(where, 'field "source" must not be empty')
    if section == 'clients':
        if row['negotiates'] and row.get('api_version') is not None:
            raise _err(where, 'a negotiating client has api_min/api_max, not api_version')
        if not row['negotiates'] and row.get('api_version') is None:
            raise _err(where, 'a client that does not negotiate needs api_version')
        if 'fixed_in' in row and row['fixed_in'] is None and not row.get('note'):
            raise _err(where, 'fixed_in: null needs a note saying what is known about the fix')


def _row_where(section, row, index, origin):
    key_field = SCHEMA[section][0]
    key = row.get(key_field) if isinstance(row, dict) else None
    return '%s %s row %s' % (origin, section, repr(key) if key is not None else '#%d' % index)


def load_files(directory=KB_DIR):
    """Read every ``*.yml`` file of ``directory``: {section: [rows]} in file order (not validated)."""
    sections = {}
    seen_in = {}
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith('.yml'))
    except OSError as exc:
        raise InputError('knowledge base directory %s cannot be read: %s' % (directory, exc)) from exc
    for name in names:
        path = os.path.join(directory, name)
        with open(path, encoding='utf-8') as handle:
            data = yaml.load(handle, Loader=SafeLoader)
        if not isinstance(data, dict):
            raise InputError('knowledge base file %s must map section names to lists of rows' % path)
        for section, rows in data.items():
            if section not in SCHEMA:
                raise InputError('knowledge base file %s: unknown section %r' % (path, section))
            if section in seen_in:
                raise InputError('knowledge base section %r appears in both %s and %s' % (
                    section, seen_in[section], name))
            if not isinstance(rows, list):
                raise InputError('knowledge base file %s: section %r must be a list of rows' % (path, section))
            seen_in[section] = name
            sections[section] = rows
    return sections


def validate_sections(sections, origin='knowledge base'):
    for section, rows in sections.items():
        key_field = SCHEMA[section][0]
        keys = set()
        for index, row in enumerate(rows):
            where = _row_where(section, row, index, origin)
            validate_row(section, row, where)
            if row[key_field] in keys:
                raise _err(where, 'duplicate %s %r' % (key_field, row[key_field]))
            keys.add(row[key_field])


def merge(base, user):
    """Merge the user's knowledge dict over the (validated) built-in sections; return new sections."""
    if not isinstance(user, dict):
        raise InputError('knowledge must be a dict of sections (%s), got %s' % (', '.join(SCHEMA), got(user)))
    merged = {section: [dict(row) for row in rows] for section, rows in base.items()}
    for section, rows in user.items():
        if section not in SCHEMA:
            raise InputError('knowledge has unknown section %r (known: %s)' % (section, ', '.join(SCHEMA)))
        if not isinstance(rows, list):
            raise InputError('knowledge section %r must be a list of rows, got %s' % (section, got(rows)))
        key_field = SCHEMA[section][0]
        target = merged.setdefault(section, [])
        index_of = {row[key_field]: i for i, row in enumerate(target)}
        for index, row in enumerate(rows):
            where = _row_where(section, row, index, 'knowledge')
            if not isinstance(row, dict):
                raise _err(where, 'a row must be a mapping, got %s' % describe(row))
            key = row.get(key_field)
            if not isinstance(key, str):
                raise _err(where, 'needs a string %r to say which row it adds or changes' % key_field)
            row = dict(row)
            if 'disabled' in row:
                raise _err(where, 'use "enabled: false" to switch a row off (the field "disabled" is not read)')
            if row.get('enabled', True) is False and key not in index_of:
                raise _err(where, 'enabled: false names no built-in row (known %ss: %s)' % (
                    key_field, ', '.join(sorted(index_of)) or 'none'))
            if key in index_of:
                updated = dict(target[index_of[key]])
                updated.update(row)
                validate_row(section, updated, where)
                target[index_of[key]] = updated
            else:
                validate_row(section, row, where)
                index_of[key] = len(target)
                target.append(row)
        merged[section] = target
    return merged


def enabled(rows):
    return [row for row in rows if row.get('enabled', True)]


class Knowledge:
    """Indexed, validated knowledge: what the rule engine looks things up in."""

    def __init__(self, sections):
        self.sections = sections
        self.engine_rows = {}      # release tuple (line or exact patch) -> row with parsed fields
        self.engine_lines = []     # sorted list of (line tuple, row) for lines only
        for row in enabled(sections.get('engines', [])):
            parsed = dict(row)
            version = parse_version(row['line'])
            parsed['_line'] = version.release
            parsed['_api_max'] = parse_api(row['api_max'])
            parsed['_api_min'] = parse_api(row['api_min_default'])
            floor = row['min_api_env_floor']
            parsed['_env_floor'] = parse_api(floor) if floor is not None else None
            self.engine_rows[version.release] = parsed
            if len(version.release) == 2:
                self.engine_lines.append((version.release, parsed))
        self.engine_lines.sort(key=lambda item: item[0])

        self.containerd_rows = {}
        for row in enabled(sections.get('containerd', [])):
            parsed = dict(row)
            parsed['_line'] = parse_version(row['line']).line
            parsed['_from'] = tuple(parse_version(item).line for item in row['upgrades_from'])
            self.containerd_rows[parsed['_line']] = parsed

        self.clients_by_image = {}
        self.clients_by_name = {}  # the row's name: programs and libraries, not images
        self.client_aliases = {}   # alias -> name
        for row in enabled(sections.get('clients', [])):
            parsed = dict(row)
            parsed['_spec'] = parse_spec(row['versions'])
            parsed['_api'] = parse_api(row['api_version']) if row.get('api_version') else None
            parsed['_api_min'] = parse_api(row['api_min']) if row.get('api_min') else None
            parsed['_api_max'] = parse_api(row['api_max']) if row.get('api_max') else None
            for image in row.get('images') or ():
                self.clients_by_image.setdefault(normalise_image(image), []).append(parsed)
            self.clients_by_name.setdefault(normalise_name(row['name']), []).append(parsed)
            for alias in row.get('aliases') or ():   # an alias names every row of the program, wherever it is listed
                self.client_aliases.setdefault(normalise_name(alias), normalise_name(row['name']))

        self.known_bad = {component: [] for component in COMPONENTS}
        for row in enabled(sections.get('known_bad', [])):
            parsed = dict(row)
            parsed['_spec'] = parse_spec(row['versions'])
            when = {}
            for cond, expected in (row.get('when') or {}).items():
                when[cond] = frozenset(expected if isinstance(expected, list) else [expected])
            parsed['_when'] = when
            # what the judge asks of every row for every host, worked out once
            parsed['_rootless'] = any(cond.startswith('rootless') for cond in when)
            parsed['_host_conditions'] = bool(HOST_WHEN_KEYS.intersection(when))
            self.known_bad[row['component']].append(parsed)

        self.storage_drivers = {}
        for row in enabled(sections.get('storage_drivers', [])):
            parsed = dict(row)
            for field in ('deprecated_in', 'removed_in', 'disabled_by_default_in'):
                value = row.get(field)
                parsed['_' + field] = parse_version(value) if value else None
            self.storage_drivers[row['driver']] = parsed

        self.daemon_options = {}   # (where, setting) -> row with parsed lines
        for row in sections.get('daemon_options', []):
            parsed = dict(row)
            for field in ('deprecated_in', 'ignored_in', 'refused_in', 'unknown_in'):
                value = row.get(field)
                parsed['_' + field] = parse_version(value).line if value else None
            self.daemon_options[(row['where'], row['setting'])] = parsed

        self.rules = {row['id']: row for row in sections.get('upgrade_rules', [])}
        self._paths = {}
        self.derived = {}          # answers computed once per knowledge base by its users (see _findings)

    # --- engines -------------------------------------------------------------------------
    def engine_row(self, version):
        """The row for an engine Version: an exact patch row first, then its line; None if unknown."""
        row = self.engine_rows.get(version.release[:3] if len(version.release) >= 3 else None)
        if row is not None and len(row['_line']) == 3:
            return row
        return self.engine_rows.get(version.line)

    def engine_known_lines(self):
        if not self.engine_lines:
            return 'none'
        return '%s .. %s' % (self.engine_lines[0][1]['line'], self.engine_lines[-1][1]['line'])

    def first_engine_line_serving(self, api):
        """The first engine line whose maximum API is at least ``api`` (None if none)."""
        for _line, row in self.engine_lines:
            if row['_api_max'] >= api:
                return row
        return None

    def last_engine_line_accepting(self, api, before=None):
        """The last engine line (below the line ``before``, when given) whose default minimum API is at most
        ``api`` (None if none)."""
        found = None
        for line, row in self.engine_lines:
            if before is not None and line >= before:
                break
            if row['_api_min'] <= api:
                found = row
        return found

    def first_engine_line_accepting(self, api, after):
        """The first engine line above the line ``after`` whose default minimum API is at most ``api``."""
        for line, row in self.engine_lines:
            if line > after and row['_api_min'] <= api:
                return row
        return None

    # --- containerd ----------------------------------------------------------------------
    def containerd_row(self, version):
        return self.containerd_rows.get(version.line)

    def containerd_path(self, from_line, to_line):
        """Shortest supported upgrade path as a list of lines after ``from_line``; None if none."""
        key = (from_line, to_line)
        if key not in self._paths:
            self._paths[key] = self._containerd_path(from_line, to_line)
        path = self._paths[key]
        return list(path) if path is not None else None

    def _containerd_path(self, from_line, to_line):
        if from_line == to_line:
            return []
        successors = {}
        for line, row in self.containerd_rows.items():
            for previous in row['_from']:
                successors.setdefault(previous, []).append(line)
        queue = deque([(from_line, [])])
        seen = {from_line}
        while queue:
            line, path = queue.popleft()
            for nxt in sorted(successors.get(line, ()), reverse=True):
                if nxt in seen:
                    continue
                if nxt == to_line:
                    return path + [nxt]
                seen.add(nxt)
                queue.append((nxt, path + [nxt]))
        return None

    # --- clients -------------------------------------------------------------------------
    def client_rows(self, image_name):
        return self.clients_by_image.get(normalise_image(image_name), [])

    def client_row(self, image_name, version):
        return _first_containing(self.client_rows(image_name), version)

    def program_rows(self, name):
        """Rows for a program or library by its name or an alias (``docker-py``, ``testcontainers-java``)."""
        key = normalise_name(name)
        return self.clients_by_name.get(key) or self.clients_by_name.get(self.client_aliases.get(key), [])

    def program_row(self, name, version):
        return _first_containing(self.program_rows(name), version)


def _first_containing(rows, version):
    for row in rows:
        if row['_spec'].contains(version):
            return row
    return None


def normalise_name(name):
    """``Docker-Py`` -> ``docker-py``; ``docker CLI`` -> ``docker cli``."""
    return ' '.join(name.strip().lower().split())


@lru_cache(maxsize=4096)
def normalise_image(name):
    """``docker.io/library/traefik`` -> ``traefik``; ``index.docker.io/caprover/caprover`` -> ``caprover/caprover``."""
    name = name.strip().lower()
    for prefix in ('docker.io/', 'index.docker.io/', 'registry-1.docker.io/', 'registry.hub.docker.com/'):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name.startswith('library/'):
        name = name[len('library/'):]
    return name


@lru_cache(maxsize=1)
def builtin_sections():
    sections = load_files()
    validate_sections(sections)
    return sections


@lru_cache(maxsize=1)
def builtin():
    return Knowledge(builtin_sections())


@lru_cache(maxsize=32)
def _merged(fingerprint):
    user = json.loads(fingerprint)
    return Knowledge(merge(builtin_sections(), user))


def _check_shape(user):
    if not isinstance(user, dict):
        raise InputError('knowledge must be a dict of sections (%s), got %s' % (', '.join(SCHEMA), got(user)))
    for section, rows in user.items():
        if section not in SCHEMA:
            raise InputError('knowledge has unknown section %r (known: %s)' % (section, ', '.join(SCHEMA)))
        if not isinstance(rows, list):
            raise InputError('knowledge section %r must be a list of rows, got %s' % (section, got(rows)))
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or not all(isinstance(k, str) for k in row):
                raise InputError('knowledge %s row #%d must be a mapping with string keys, got %s' % (
                    section, index, describe(row)))


def get(user=None):
    """The Knowledge to use: the built-in base, or the user's dict merged over it (cached)."""
    if user is None or user == {}:
        return builtin()
    _check_shape(user)
    try:
        fingerprint = json.dumps(user, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputError('knowledge must hold only strings, numbers, booleans, lists and dicts: %s' % exc) from exc
    return _merged(fingerprint)


def sections_copy():
    """A deep copy of the validated built-in sections (for tests and documentation)."""
    return copy.deepcopy(builtin_sections())
