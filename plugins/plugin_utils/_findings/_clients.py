# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about the programs that call the Docker API (docs/findings.md, family "client")."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import (
    client_api,
    client_match,
    client_product,
    client_rows,
    judge,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    describe,
    format_api,
    merge_ranges,
    parse_version,
)

TOO_NEW = 'client version %s is too new. Maximum supported API version is %s'
TOO_OLD = ('client version %s is too old. Minimum supported API version is %s, please upgrade your client to a '
           'newer version')


def _releases(ctx, client, rows, product):
    """``portainer/portainer-ce >=2.33.5,<2.34.0 or >=2.36.0``: the image once (not when it is the product's
    own name, as for traefik, nor for a program named by the product), then each range, adjacent ranges merged
    (docker ``>=20.10.0,<29.0.0 or >=29.3.0``, not one range per CLI line)."""
    ranges = ' or '.join(merge_ranges([row['versions'] for row in rows]))
    label = client_match(ctx.kb, client)[0]
    return ranges if label in (None, product) else '%s %s' % (label, ranges)


def _fix_without_row(ctx, client, row):
    """The row's fixed_in release when no knowledge-base row describes it (testcontainers-java 1.21.4), else None."""
    fixed = (row or {}).get('fixed_in')
    if not fixed:
        return None
    version = parse_version(fixed)
    return None if any(r['_spec'].contains(version) for r in client_rows(ctx.kb, client)) else fixed


def _all_verdicts(ctx):
    """[(verdict, client, who, kind, data, how, row)] for every client, worked out once per host."""
    rng = ctx.judged_range
    found = []
    for client in ctx.host.clients:
        new_version = ctx.target['clients'].get(client.name)
        kind, data, how, row = client_api(ctx.kb, client, new_version)
        if kind != 'unknown' and rng is None:
            continue
        verdict = 'unknown' if kind == 'unknown' else judge(kind, data, rng)
        who = client.name + (' (%s)' % (client.image or client.exe) if client.image or client.exe else '')
        if new_version is not None:
            who += ' at %s' % new_version.raw
        found.append((verdict, client, who, kind, data, how, row))
    return found


def _verdicts(ctx, wanted):
    """(client, who, kind, data, how, row) for every client whose verdict is ``wanted``."""
    for verdict, *rest in ctx.once('client_verdicts', lambda: _all_verdicts(ctx)):
        if verdict == wanted:
            yield tuple(rest)


def _source(ctx, me, row):
    return '; '.join(s for s in ((row or {}).get('source'), ctx.judged_range.source, me.source_of(ctx.kb)) if s)


@finding('client_api_unknown', 'info', 'client:NAME', kb=['clients:*'],
         summary='a program talks to the Docker socket and nothing tells which API version it speaks')
def client_api_unknown(ctx, me):
    for client, who, _kind, _data, _how, _row in _verdicts(ctx, 'unknown'):
        declare = ('Declare it in the clients_facts `declared` option under the name %s, with the api_version it '
                   'speaks or its program and version' % client.name)
        if client.version is not None and client.image_name is None:
            what = 'no knowledge-base row for %s %s' % (client.program, client.version.raw)
            remedy = ('Declare the API version it speaks (api_version in the clients_facts `declared` option), or add '
                      'a clients row named %s for this release with the knowledge argument.' % client.program)
        elif client.exe is not None and client.program is None:
            what = 'a program the knowledge base does not know'
            remedy = declare + ', or pin its API version with DOCKER_API_VERSION if it reads it.'
        elif client.exe is not None:
            what = 'its %s release could not be read' % client.program
            remedy = declare + '.'
        elif client.unit is not None and client.image_name is None:
            what = 'its unit points it at the socket; the program and its release are not known'
            remedy = declare + ', or set DOCKER_API_VERSION in the unit if the program reads it.'
        else:
            what = 'tag %s' % describe(client.image_tag)
            remedy = ('Pin the image to a release tag, declare the client with its api_version in the clients_facts '
                      '`declared` option, or add a clients row with the knowledge argument.')
        yield hit('client:%s' % client.name,
                  '%s talks to the Docker socket; which API version it speaks is not known (%s)' % (who, what),
                  remedy, 'docs/facts.md (clients); knowledge base clients.yml')


@finding('client_api_too_new', 'blocker', 'client:NAME',
         kb=['clients:*', 'engines:*', 'upgrade_rules:api-version-messages'],
         summary='a client pins an API above what the engine (target, else running) serves',
         incident='client-api-too-new')
def client_api_too_new(ctx, me):
    kb, rng = ctx.kb, ctx.judged_range
    for client, who, kind, data, how, row in _verdicts(ctx, 'too_new'):
        api = data if kind == 'fixed' else data[0]
        product = client_product(kb, client)
        first = kb.first_engine_line_serving(api)
        remedy = []
        if first is not None:
            if ctx.target_range is not None and ctx.current is not None and ctx.current.api_max >= api:
                remedy.append('keep the engine at %s or later (the host runs %s; the target %s is too old for it)' % (
                    first['line'], ctx.current.label, rng.label))
            else:
                remedy.append('upgrade the engine to %s or later' % first['line'])
        both, later = ctx.client_releases(client)
        if both or later:
            remedy.append('%srun a %s release the engine accepts (%s)' % (
                'or ' if remedy else '', product, _releases(ctx, client, both or later, product)))
        if row and row.get('override'):
            remedy.append('or pin its API version to %s (%s)' % (format_api(rng.api_max), row['override']))
        yield hit('client:%s' % client.name,
                  '%s speaks API %s (%s); Engine %s serves at most %s: its calls fail with "%s"' % (
                      who, format_api(api), how, rng.label, format_api(rng.api_max),
                      TOO_NEW % (format_api(api), format_api(rng.api_max))),
                  '; '.join(remedy) or 'Run a client that speaks API %s or older.' % format_api(rng.api_max),
                  _source(ctx, me, row))


@finding('client_api_too_old', 'blocker', 'client:NAME',
         kb=['clients:*', 'engines:*', 'upgrade_rules:api-version-messages'],
         summary='a client pins an API below the engine\'s minimum; says whether a DOCKER_MIN_API_VERSION '
                 'override could help',
         incident='agent-api-too-old')
def client_api_too_old(ctx, me):
    kb, rng = ctx.kb, ctx.judged_range
    for client, who, kind, data, how, row in _verdicts(ctx, 'too_old'):
        api = data if kind == 'fixed' else data[1]
        product = client_product(kb, client)
        if rng.env_floor is not None and api >= rng.env_floor:
            help_text = ('an override could help: DOCKER_MIN_API_VERSION=%s is accepted by Engine %s (lowest '
                         'accepted value %s)' % (format_api(api), rng.label, format_api(rng.env_floor)))
        elif rng.env_floor is not None:
            help_text = 'no override can help: Engine %s accepts DOCKER_MIN_API_VERSION no lower than %s' % (
                rng.label, format_api(rng.env_floor))
        else:
            help_text = 'no override can help: Engine %s has no minimum-API override' % rng.label
        both, later = ctx.client_releases(client, upgrade=True)
        fix = _fix_without_row(ctx, client, row)
        if both or later:
            remedy = ['upgrade %s first (%s%s)' % (product, fix + ', or ' if fix else '',
                                                   _releases(ctx, client, both or later, product))]
        elif fix:
            remedy = ['upgrade %s first (%s or later)' % (product, fix)]
        elif row and 'fixed_in' in row:
            remedy = ['upgrade %s to a release that speaks API %s or newer: no fixed release is established (%s)' % (
                product, format_api(rng.api_min), row['note'])]
        else:
            remedy = ['upgrade %s to a release that speaks API %s or newer' % (product, format_api(rng.api_min))]
        if kind == 'fixed' and client.api_env is not None and (client.exe or client.unit):
            # a program on the host pinned by its environment: no release of it helps while the pin stays
            remedy = ['unpin it: remove the API version %s from its environment (DOCKER_API_VERSION; '
                      'COMPOSE_API_VERSION for docker-compose v1)%s, or raise it to %s' % (
                          format_api(api), ' in the unit %s' % client.unit if client.unit else '',
                          format_api(rng.api_min))] + ['or ' + part for part in remedy]
        if ctx.target_range is not None:
            line = ctx.target['engine'].line
            earlier = kb.last_engine_line_accepting(api, before=line)
            later_line = kb.first_engine_line_accepting(api, after=line)
            if earlier is not None:
                remedy.append('or target Engine %s or older' % earlier['line'])
            if later_line is not None:
                remedy.append('or target Engine %s or later, which accepts API %s again' % (
                    later_line['line'], format_api(api)))
        if rng.env_floor is not None and api >= rng.env_floor:
            remedy.append('or set DOCKER_MIN_API_VERSION=%s in a docker.service drop-in as a stopgap' % format_api(api))
        yield hit('client:%s' % client.name,
                  '%s speaks API %s (%s); Engine %s accepts %s and newer: its calls fail with "%s"; %s' % (
                      who, format_api(api), how, rng.label, format_api(rng.api_min),
                      TOO_OLD % (format_api(api), format_api(rng.api_min)), help_text),
                  '; '.join(remedy), _source(ctx, me, row))


@finding('client_needs_new_engine_first', 'warning', 'client:NAME', kb=['clients:*', 'engines:*'],
         summary='a client the target engine rejects has no release that works with both engines: it can only move '
                 'right after the engine, and its calls fail in between')
def client_needs_new_engine_first(ctx, me):
    if not ctx.engine_changes:
        return
    for client in ctx.host.clients:
        move = ctx.client_move(client)
        if move is None or move[0] != 'after':
            continue
        row = move[1]
        bound = row['_spec'].lower_bound()
        release = bound.raw if bound else row['versions']
        product = client_product(ctx.kb, client)
        yield hit('client:%s' % client.name,
                  'no %s release works with both Engine %s and Engine %s: %s can only move to %s right after the '
                  'engine upgrade, and its calls fail in between' % (
                      product, ctx.current.label if ctx.current else 'as it runs', ctx.target_range.label,
                      client.name, release),
                  'Move it right after the engine upgrade (upgrade_plan orders it so; the upgrade role does it), '
                  'accepting its downtime, or choose a target engine that accepts a release of it.',
                  '; '.join(s for s in (row.get('source'), ctx.target_range.source) if s))
