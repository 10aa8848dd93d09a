# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judgements shared by the findings (plugin_utils/_findings) and the plan (plugin_utils/_plan).

Each question is answered here once: what an engine accepts, whether a minimum-API override stops
the target dockerd, which API a client speaks and which of its releases work, whether containerd or
dockerd run something older than what is installed, whether a running containerd can start the
installed shim.  The findings phrase these answers for people; the plan orders steps from them.
"""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import step_packages
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils import _kb
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import (
    ENV_SOURCES,
    Host,
    check_against,
    next_start_environment,
    read_target,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._preflight import read_preflight
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    format_api,
    parse_api,
    parse_spec,
    parse_version,
)

RUNC_SHIM = 'containerd-shim-runc-v2'
SHIM_ERROR = ('failed to create task for container: failed to start shim: start failed: '
              'unsupported shim version (%d): not implemented')


class Range:
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


def engine_line_label(version):
    """Engine lines 17.03 .. 20.10 are YY.MM with a two-digit month; later ones MAJOR.MINOR."""
    major, minor = version.line
    return ('%d.%02d' if 17 <= major <= 20 else '%d.%d') % (major, minor)


def engine_row_or_error(kb, version, what):
    row = kb.engine_row(version)
    if row is None:
        raise InputError('%s %s: Engine line %s is not in the knowledge base (known lines %s); '
                         'add it with the knowledge argument' % (what, version.raw, engine_line_label(version),
                                                                 kb.engine_known_lines()))
    return row


def containerd_row_or_error(kb, version, what):
    row = kb.containerd_row(version)
    if row is None:
        known = ', '.join(sorted(r['line'] for r in kb.containerd_rows.values())) or 'none'
        raise InputError('%s %s: containerd line %d.%d is not in the knowledge base (known lines %s); '
                         'add it with the knowledge argument' % (what, version.raw, version.line[0], version.line[1],
                                                                 known))
    return row


def validate_override(row, source, value):
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


def persisting_overrides(overrides):
    """Overrides that survive a restart, one per (kind, value): the environment's as next_start_environment
    chooses them, then daemon.json's."""
    env = next_start_environment([o for o in overrides if o['source'] in ENV_SOURCES])
    result = {}
    for item in env + [o for o in overrides if o['source'] == 'daemon_json']:
        kind = 'env' if item['source'] in ENV_SOURCES else 'daemon_json'
        entry = result.setdefault((kind, item['value']),
                                  {'source': item['source'], 'value': item['value'], 'where': []})
        if item['where'] and item['where'] not in entry['where']:
            entry['where'].append(item['where'])
    return list(result.values())


def same_release(current, target):
    """Does ``current`` already satisfy ``target`` (a line like 26.1, or a release like 26.1.5)?"""
    if len(target.release) == 2:
        return current.line == target.line
    return current.release == target.release and current.pre == target.pre


# --- clients ---------------------------------------------------------------------------------

def client_rows(kb, client):
    """The knowledge-base rows that describe this client: its image's rows, else its program's (name or alias)."""
    return client_match(kb, client)[1]


def client_match(kb, client):
    """(label, rows): the image name and its rows when the knowledge base knows the image, else the program's
    knowledge-base name and its rows, else (None, [])."""
    if client.image_name:
        rows = kb.client_rows(client.image_name)
        if rows:
            return client.image_name, rows
    if client.program:
        rows = kb.program_rows(client.program)
        if rows:
            return rows[0]['name'], rows
    return None, []


def client_version(client):
    """The release the client runs: a declared program's version, else its image tag's when the tag names a release
    (three parts), else the release the facts learned from the host (an image label, the registry), else the tag's
    partial release (3.6, 3) or None (latest, a digest, no tag)."""
    if client.version is not None:
        return client.version
    tag = None
    if client.image_tag:
        try:
            tag = parse_version(client.image_tag)
        except InputError:
            tag = None
    if tag is not None and len(tag.release) >= 3:
        return tag
    return client.learned or tag


def learned_how(client):
    """How a person reads where the facts learned a client's release: 'its image label org.opencontainers.image.
    version', 'the registry: 127.0.0.1:5000/acme/agent:1.2.3 has its digest'."""
    source = client.learned_from or ''
    kind, _sep, detail = source.partition(':')
    if kind == 'label':
        return 'its image label %s' % detail
    if kind == 'registry':
        return 'the registry: %s has its digest' % detail
    return source


def row_api(row):
    """(kind, data) of a knowledge-base client row, as judge() takes them."""
    if row['negotiates']:
        return 'negotiates', (row['_api_min'], row['_api_max'])
    return 'fixed', row['_api']


def floating_rows(kb, client):
    """The knowledge-base rows of a client's image whose release is not known (a floating tag: latest, none, a digest,
    3, 3.6, and nothing learned): every row of the image for latest, no tag or a digest, the rows that reach 3.6.x
    for the tag 3.6 ([] when the knowledge base holds none). None for a client that is not an image, whose API its
    environment or the inventory pins, or whose release is known."""
    if client.image_name is None or client.api_env is not None or client.declared_api is not None:
        return None
    version = client_version(client)
    if client.version is not None or (version is not None and len(version.release) >= 3):
        return None
    rows = kb.client_rows(client.image_name)
    if version is None:
        return list(rows)
    return [row for row in rows if row['_spec'].reaches(version.release)]


def switched_off_client_rows(kb, client):
    """The ids of rows of the client's image switched off with enabled: false that its floating tag could stand for
    (floating_rows would have judged them)."""
    version = client_version(client)
    prefix = version.release if version is not None else None
    wanted = _kb.normalise_image(client.image_name or '')
    found = []
    for row in kb.sections.get('clients', []):
        if row.get('enabled', True) or wanted not in [_kb.normalise_image(i) for i in row.get('images') or ()]:
            continue
        if prefix is None or parse_spec(row['versions']).reaches(prefix):
            found.append(row['id'])
    return found


def client_api(kb, client, version=None):
    """(kind, data, how, row): kind is fixed | negotiates | unknown."""
    if client.api_env is not None:
        return 'fixed', client.api_env, 'DOCKER_API_VERSION=%s in its environment' % format_api(client.api_env), None
    if client.declared_api is not None:
        return 'fixed', client.declared_api, 'declared API %s in inventory' % format_api(client.declared_api), None
    if version is None:
        version = client_version(client)
    label, rows = client_match(kb, client)
    # an image tag names a release only with three parts (traefik:3.6 floats); a declared program's version is the
    # release itself, in whatever scheme the program uses (Jenkins plugins: 1274.vc0203fdf2e74)
    via_program = bool(rows) and label != client.image_name
    if version is not None and (len(version.release) >= 3 or via_program):
        row = next((r for r in rows if r['_spec'].contains(version)), None)
        if row is not None:
            origin = 'learned from %s; ' % learned_how(client) if version is client.learned else ''
            ref = '%s %s (%sknowledge base row %s)' % (label, version.raw, origin, row['id'])
            if row['negotiates']:
                return 'negotiates', (row['_api_min'], row['_api_max']), ref, row
            return 'fixed', row['_api'], ref, row
    return 'unknown', None, None, None


def judge(kind, data, rng):
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


def client_versions_ok(kb, client, ranges):
    """Knowledge-base rows for this client whose API every range in ``ranges`` accepts."""
    rows = []
    for row in client_rows(kb, client):
        kind, data = row_api(row)
        if all(judge(kind, data, rng) == 'ok' for rng in ranges):
            rows.append(row)
    return rows


def client_product(kb, client):
    """How a person names the program: the knowledge base's name (caprover), its image, else the container."""
    rows = client_rows(kb, client)
    if rows:
        return rows[0]['name']
    return client.image_name or client.program or client.name


class Context:
    """Host + target + knowledge (+ what preflight found on the host), with the ranges and shared judgements
    worked out once."""

    def __init__(self, facts, target, knowledge, preflight=None):
        self.kb = _kb.get(knowledge)
        self.host = Host(facts)
        self.target = read_target(target)
        self.preflight = read_preflight(preflight)
        self.apt = self.preflight['apt']
        check_against(self.host, self.target)
        kb = self.kb
        docker = self.host.docker
        self.current_engine = docker['version'] if docker else None
        self.installed_engine = (docker['installed_version'] or docker['version']) if docker else None
        self.current_row = kb.engine_row(self.current_engine) if self.current_engine else None
        self.current = None
        if docker and docker['api_max'] and docker['api_min']:
            label = self.current_engine.raw if self.current_engine else 'running engine'
            self.current = Range(label, self.current_row, docker['api_max'], docker['api_min'])
        elif self.current_row is not None:
            self.current = Range(self.current_engine.raw, self.current_row, self.current_row['_api_max'],
                                 self.current_row['_api_min'])
        self.target_row = None
        self.target_range = None
        self.override_problems = []     # (override entry, complaint) that stop the target dockerd
        self.override_ignored = []
        overrides = persisting_overrides(docker['overrides']) if docker else []
        engine = self.target['engine']
        if engine is not None:
            self.target_row = engine_row_or_error(kb, engine, 'target.engine')
            row = self.target_row
            api_min = row['_api_min']
            env_value = json_value = None
            for item in overrides:
                problem = validate_override(row, item['source'], item['value'])
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
            self.target_range = Range(engine.raw, row, row['_api_max'], api_min)
        elif self.current_row is not None:
            for item in overrides:
                problem = validate_override(self.current_row, item['source'], item['value'])
                if problem:
                    self.override_problems.append((item, problem))
        self.overrides = overrides
        # each rootless daemon's own overrides, judged against the target (the rootless daemon runs the same
        # dockerd binary) or else against its own release: (daemon, override entry, complaint, engine label)
        self.rootless_override_problems = []
        for daemon in self.host.rootless or []:
            version = engine if engine is not None else daemon['engine_version']
            row = self.target_row if engine is not None else (kb.engine_row(version) if version else None)
            if row is None:
                continue
            for item in persisting_overrides(daemon['overrides']):
                problem = validate_override(row, item['source'], item['value'])
                if problem:
                    self.rootless_override_problems.append((daemon, item, problem, version.raw))
        self._cache = {}

    @property
    def judged_range(self):
        return self.target_range or self.current

    def min_api_raise(self):
        """(before, after, what before is) when the target engine accepts a higher minimum API than the engine it
        replaces - the host's running engine, else the knowledge base's line before the target's - which is when
        clients nobody knows the API of break (Engine 25.0: 1.12 -> 1.24, 29.0: 1.24 -> 1.44); else None."""
        rng = self.target_range
        if rng is None:
            return None
        if self.current is not None:
            before, what = self.current.api_min, 'the host runs %s' % self.current.label
        else:
            line = self.target['engine'].line
            earlier = [row for known, row in self.kb.engine_lines if known < line]
            if not earlier:
                return None
            before, what = earlier[-1]['_api_min'], 'Engine %s accepts it' % earlier[-1]['line']
        return (before, rng.api_min, what) if rng.api_min > before else None

    def once(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # --- engine --------------------------------------------------------------------------
    @property
    def engine_changes(self):
        """Does the target move the installed engine to another release?"""
        target = self.target['engine']
        if target is None or self.host.docker is None:
            return False
        if self.installed_engine is None:
            return True
        return not same_release(self.installed_engine, target)

    def engine_stale(self):
        """(running, installed) when dockerd runs an older version than its package, else None."""
        docker = self.host.docker
        if docker is None:
            return None
        running, installed = docker['version'], docker['installed_version']
        if docker['stale'] or (running is not None and installed is not None and running < installed):
            return running, installed
        return None

    def engine_packages(self):
        """({package: version} the engine step installs, [(package, wanted)] the apt source lacks) when the target
        moves the engine and preflight.apt says what the source offers, else None (module_utils' step_packages: the
        rule apt_resolve simulates with)."""
        def compute():
            if self.apt is None or not self.engine_changes or self.family_switch() is not None:
                return None
            return step_packages('upgrade_engine', self.target['engine'].raw, self.apt['names'], self.apt['offered'],
                                 self.apt['extra'], self.apt['moving'])
        return self.once('engine_packages', compute)

    # --- package family ------------------------------------------------------------------
    def family_switch(self):
        """{'from', 'to', 'engine', 'containerd', 'moves'} when the target asks for the other package family than the
        host runs and allows the switch (target.package_family_switch), else None. ``engine`` and ``containerd`` are
        the releases the switch installs (the target's, else the installed ones); ``moves`` the components whose
        release the target changes as well ([] for a switch at the same releases)."""
        def compute():
            asked = self.target['package_family']
            if asked is None or not self.target['package_family_switch']:
                return None
            docker, containerd = self.host.docker or {}, self.host.containerd or {}
            running = docker.get('package_family') or containerd.get('package_family')
            if running is None or running == asked:
                return None
            have = {'engine': self.installed_engine,
                    'containerd': containerd.get('installed_version') or containerd.get('running_version')}
            out = {'from': running, 'to': asked, 'moves': []}
            for component in ('engine', 'containerd'):
                wanted, now = self.target[component], have[component]
                if wanted is not None and (now is None or not same_release(now, wanted)):
                    out['moves'].append((component, now.base if now is not None else None, wanted.base))
                out[component] = (wanted or now).base if (wanted or now) is not None else None
            return out
        return self.once('family_switch', compute)

    # --- clients -------------------------------------------------------------------------
    def client_releases(self, client, upgrade=False):
        """(rows that work with the current and the judged engine, rows that work with the judged one only).

        With ``upgrade``, rows entirely below the client's current release are left out: an upgrade never
        goes back to an older line (traefik v3.6.0 is not told to "upgrade" to 2.11.x).
        """
        ranges = [r for r in (self.current, self.judged_range) if r is not None]
        both = client_versions_ok(self.kb, client, ranges) if ranges else []
        later = [row for row in client_versions_ok(self.kb, client, [self.judged_range]) if row not in both] \
            if self.judged_range is not None else []
        current = client_version(client) if upgrade else None
        if current is not None:
            both = [row for row in both if not row['_spec'].entirely_below(current)]
            later = [row for row in later if not row['_spec'].entirely_below(current)]
        return both, later

    def client_move(self, client):
        """('before' | 'after', knowledge-base row) for a client the engine rejects after the change (the target
        engine, else the running one) that the target does not move itself, else None. 'before': a release works with
        both engines, so it moves first; 'after': only the new engine accepts a release, so it moves right after
        the engine and its calls fail in between."""
        if client.image_name is None or client.name in self.target['clients']:
            return None
        new = self.target_range if self.engine_changes else self.current
        kind, data, _how, _row = client_api(self.kb, client)
        if new is None or judge(kind, data, new) not in ('too_old', 'too_new'):
            return None
        both, later = self.client_releases(client, upgrade=True)
        if both:
            return 'before', both[-1]
        if later:
            return 'after', later[-1]
        return None

    # --- containerd ----------------------------------------------------------------------
    def containerd_hops(self):
        """The containerd upgrades to the target, one per minor line (never skipping one the knowledge base
        knows), each {'from', 'to', 'last', 'packages', 'lacking'}: packages is what preflight.apt offers for the hop
        ({} without it), lacking whether the source offers nothing on that hop. A hop before the last that the
        source lacks is left out (the next starts where the previous one ended): finding
        apt_source_lacks_containerd_line says so."""
        def compute():
            change = self.containerd_change()
            if change is None:
                return []
            start, target, _row = change
            path = self.kb.containerd_path(start.line, target.line) if target.line > start.line else None
            lines = path if path else [target.line]
            hops, previous = [], start.raw
            for index, line in enumerate(lines):
                last = index == len(lines) - 1
                to = target.raw if last else '%d.%d' % line
                packages, lacking = (step_packages('upgrade_containerd', to, self.apt['names'], self.apt['offered'])
                                     if self.apt is not None else ({}, []))
                hop = {'from': previous, 'to': to, 'last': last, 'packages': packages, 'lacking': bool(lacking)}
                hops.append(hop)
                if last or not hop['lacking']:
                    previous = to
            return hops
        return self.once('containerd_hops', compute)

    def containerd_restart(self):
        """Why the running containerd must restart to run what is installed (list of reasons), or None."""
        def compute():
            c = self.host.containerd
            if c is None or not c['running']:
                return None
            running, installed = c['running_version'], c['installed_version']
            differs = running is not None and installed is not None and running != installed
            if not (c['restart_required'] or c['exe_deleted'] or differs):
                return None
            reasons = [r for r in c['restart_reasons'] if r]
            if not reasons and differs:
                reasons.append('running %s != installed %s' % (running.raw, installed.raw))
            if not reasons and c['exe_deleted']:
                reasons.append('binary replaced')
            return reasons or ['restart_required']
        return self.once('containerd_restart', compute)

    def shim_mismatch(self):
        """{'running', 'shim', 'accepted', 'produced', 'running_row'} when the running daemon cannot start the
        installed runc shim (the knowledge base's containerd rows judge), else None."""
        def compute():
            c = self.host.containerd
            if c is None or not c['running']:
                return None
            running = c['running_version']
            shim = next((v for n, v in c['shims'] if n == RUNC_SHIM and v is not None), c['installed_version'])
            running_row = self.kb.containerd_row(running) if running else None
            shim_row = self.kb.containerd_row(shim) if shim else None
            if running is not None and shim is not None and running.line != shim.line:
                # the versions are known and differ: the knowledge base must know both lines to judge
                running_row = running_row or containerd_row_or_error(self.kb, running, 'containerd.running_version')
                shim_row = shim_row or containerd_row_or_error(self.kb, shim, 'containerd runc shim')
            accepted = running_row['shim_protocol_accepted'] if running_row else c['accepted']
            produced = shim_row['shim_protocol_produced'] if shim_row else c['produced']
            if not accepted or produced is None or produced in accepted:
                return None
            return {'running': running, 'shim': shim, 'accepted': accepted, 'produced': produced,
                    'running_row': running_row}
        return self.once('shim_mismatch', compute)

    def containerd_change(self):
        """(start, target, target_row) when the target moves containerd to another release, else None."""
        def compute():
            c = self.host.containerd
            target = self.target['containerd']
            if c is None or target is None:
                return None
            start = c['installed_version'] or c['running_version']
            if start is None or same_release(start, target):
                return None
            return start, target, containerd_row_or_error(self.kb, target, 'target.containerd')
        return self.once('containerd_change', compute)

    def restart_window(self):
        """(running, produced) when the running daemon cannot start the target's shim between the
        package upgrade and its restart, else None."""
        change = self.containerd_change()
        c = self.host.containerd
        if change is None or not c['running'] or c['running_version'] is None:
            return None
        start, target, target_row = change
        if target < start:
            return None
        run_row = self.kb.containerd_row(c['running_version'])
        if run_row and target_row['shim_protocol_produced'] not in run_row['shim_protocol_accepted']:
            return c['running_version'], target_row['shim_protocol_produced']
        return None
