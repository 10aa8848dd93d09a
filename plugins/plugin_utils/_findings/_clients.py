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
    client_version,
    floating_rows,
    judge,
    row_api,
    switched_off_client_rows,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
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


# the findings that judge a client on a floating tag across the releases the knowledge base holds for its image
FLOATING_FINDINGS = ('client_api_too_old', 'client_api_too_new', 'client_floating_tag_some_releases_break')


def _tag(client):
    """How the findings name a floating tag: 'latest', '3.6', 'a digest', 'no tag (latest)'."""
    if client.image_tag:
        return client.image_tag
    return 'a digest' if client.image and '@' in client.image else 'no tag (latest)'


def _check_switched_off(ctx, client):
    """A client on a floating tag is judged across every release of its image: a row switched off would change that
    judgement without a word, so it is an error, as for the rows other blockers rely on."""
    off = switched_off_client_rows(ctx.kb, client)
    if off:
        raise InputError(
            'knowledge clients row(s) %s switched off (enabled: false), but client %s runs %s on the floating tag %s '
            'and is judged across every release the knowledge base holds for it (findings %s): with a row off, that '
            'judgement is made without the release the container may run. Switch a finding off by its id instead, '
            'e.g. findings={%r: {"enabled": false}}, or pin the image to a release tag; see docs/findings.md' % (
                ', '.join(off), client.name, client.image_name, _tag(client), ', '.join(FLOATING_FINDINGS),
                FLOATING_FINDINGS[0]))


def _floating(ctx, client, who, rows):
    """The verdicts of a client on a floating tag, judged across ``rows`` (floating_rows): one blocker verdict
    (too_old, too_new, each with the rows that break so) when every row breaks, 'some_break' with the rows that break
    and those that work when some do, none when none do."""
    judged = [(row, judge(*row_api(row), ctx.judged_range)) for row in rows]
    breaking = [(row, verdict) for row, verdict in judged if verdict != 'ok']
    if not breaking:
        return []
    if len(breaking) < len(judged):
        return [('some_break', client, who, 'floating', (breaking, [row for row, v in judged if v == 'ok']), None,
                 None)]
    found = []
    for verdict in ('too_new', 'too_old'):
        group = [row for row, v in breaking if v == verdict]
        if group:
            found.append((verdict, client, who, 'floating', group, None, None))
    return found


def _all_verdicts(ctx):
    """[(verdict, client, who, kind, data, how, row)] for every client, worked out once per host.

    verdict: ok | too_new | too_old | unknown | unknown_raised (an image client whose API is not known while the
    target raises the engine's minimum API) | some_break (a floating tag some of whose releases break); kind: fixed |
    negotiates | unknown | floating (data: the rows that break, or for some_break (breaking, working))."""
    rng = ctx.judged_range
    found = []
    for client in ctx.host.clients:
        new_version = ctx.target['clients'].get(client.name)
        kind, data, how, row = client_api(ctx.kb, client, new_version)
        who = client.name + (' (%s)' % (client.image or client.exe) if client.image or client.exe else '')
        if new_version is not None:
            who += ' at %s' % new_version.raw
        rows = floating_rows(ctx.kb, client) if kind == 'unknown' and new_version is None else None
        if rows is not None:
            _check_switched_off(ctx, client)
        if rows and rng is not None:
            found.extend(_floating(ctx, client, who, rows))
            continue
        if kind != 'unknown' and rng is None:
            continue
        verdict = 'unknown' if kind == 'unknown' else judge(kind, data, rng)
        if verdict == 'unknown' and client.image_name is not None and ctx.min_api_raise() is not None:
            verdict = 'unknown_raised'
        found.append((verdict, client, who, kind, data, how, row))
    return found


def _verdicts(ctx, wanted):
    """(client, who, kind, data, how, row) for every client whose verdict is ``wanted``."""
    for verdict, *rest in ctx.once('client_verdicts', lambda: _all_verdicts(ctx)):
        if verdict == wanted:
            yield tuple(rest)


def _source(ctx, entry, row, rows=()):
    sources = [r['source'] for r in rows] + [(row or {}).get('source'), ctx.judged_range.source,
                                             entry.source_of(ctx.kb)]
    return '; '.join(dict.fromkeys(s for s in sources if s))


def _ranges(rows):
    """'>=2.0.0,<=2.11.30 or >=3.0.0,<=3.6.0': the rows' release ranges, adjacent ones merged."""
    return ' or '.join(merge_ranges([row['versions'] for row in rows]))


def _floating_api(rows, verdict):
    """The API a floating client speaks at best: the highest any of its releases speaks (too_old), the lowest
    (too_new)."""
    if verdict == 'too_old':
        return max(row['_api'] if not row['negotiates'] else row['_api_max'] for row in rows)
    return min(row['_api'] if not row['negotiates'] else row['_api_min'] for row in rows)


def _floating_how(ctx, client, rows, api, verdict):
    """'its tag latest floats: every traefik release the knowledge base holds speaks API 1.24 or older (rows ...)'."""
    return 'its tag %s floats: every %s release the knowledge base holds%s speaks API %s or %s (rows %s)' % (
        _tag(client), client_product(ctx.kb, client), ' for that tag' if client_version(client) else '',
        format_api(api), 'older' if verdict == 'too_old' else 'newer', ', '.join(row['id'] for row in rows))


def _spoken(ctx, client, verdict, kind, data, how):
    """(api, how, rows) of a too_new / too_old verdict: the API the client speaks (for a floating tag, the best any
    of its breaking releases speaks, said so in ``how``), and the knowledge-base rows it was judged across (())."""
    if kind == 'floating':
        api = _floating_api(data, verdict)
        return api, _floating_how(ctx, client, data, api, verdict), data
    if kind == 'fixed':
        return data, how, ()
    return (data[0] if verdict == 'too_new' else data[1]), how, ()


@finding('client_api_unknown', 'info', 'client:NAME', kb=['clients:*'],
         summary='a program talks to the Docker socket and nothing tells which API version it speaks')
def client_api_unknown(ctx, entry):
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
def client_api_too_new(ctx, entry):
    kb, rng = ctx.kb, ctx.judged_range
    for client, who, kind, data, how, row in _verdicts(ctx, 'too_new'):
        api, how, rows = _spoken(ctx, client, 'too_new', kind, data, how)
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
                  _source(ctx, entry, row, rows))


@finding('client_api_too_old', 'blocker', 'client:NAME',
         kb=['clients:*', 'engines:*', 'upgrade_rules:api-version-messages'],
         summary='a client pins an API below the engine\'s minimum; says whether a DOCKER_MIN_API_VERSION '
                 'override could help',
         incident='agent-api-too-old')
def client_api_too_old(ctx, entry):
    kb, rng = ctx.kb, ctx.judged_range
    for client, who, kind, data, how, row in _verdicts(ctx, 'too_old'):
        api, how, rows = _spoken(ctx, client, 'too_old', kind, data, how)
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
                  '; '.join(remedy), _source(ctx, entry, row, rows))


@finding('client_floating_tag_some_releases_break', 'warning', 'client:NAME',
         kb=['clients:*', 'engines:*', 'upgrade_rules:api-version-messages'],
         summary='a client on a floating tag (latest, none, a digest, a partial release such as 3.6) whose release '
                 'nothing on the host tells, and some of the releases the knowledge base holds for its image break '
                 'on the engine (target, else running); every one breaking is a blocker (client_api_too_old / '
                 'client_api_too_new), none breaking no finding')
def client_floating_tag_some_releases_break(ctx, entry):
    rng = ctx.judged_range
    for client, who, _kind, data, _how, _row in _verdicts(ctx, 'some_break'):
        breaking, working = data
        product = client_product(ctx.kb, client)
        reasons = {}
        for row, verdict in breaking:
            kind, api = row_api(row)
            if verdict == 'too_old':
                api = api if kind == 'fixed' else api[1]
                reason = 'speak API %s: too old, Engine %s accepts %s and newer ("%s")' % (
                    format_api(api), rng.label, format_api(rng.api_min),
                    TOO_OLD % (format_api(api), format_api(rng.api_min)))
            else:
                api = api if kind == 'fixed' else api[0]
                reason = 'speak API %s: too new, Engine %s serves at most %s ("%s")' % (
                    format_api(api), rng.label, format_api(rng.api_max),
                    TOO_NEW % (format_api(api), format_api(rng.api_max)))
            reasons.setdefault(reason, []).append(row)
        broken = '; '.join('%s releases %s %s' % (product, _ranges(rows), reason) for reason, rows in reasons.items())
        both = [row for row in working if ctx.current is None or judge(*row_api(row), ctx.current) == 'ok']
        works = _ranges(both or working)
        yield hit('client:%s' % client.name,
                  '%s runs the floating tag %s: which %s release it runs is not known (no version label, no registry '
                  'digest; see docs/facts.md), and some releases the knowledge base holds for it break on Engine %s: '
                  '%s' % (who, _tag(client), product, rng.label, broken),
                  'Pin the image to a release tag that works (%s %s%s), or check which release the container runs '
                  'before the change (docker image inspect: an org.opencontainers.image.version label) and pin that '
                  'tag.' % (client.image_name, works, ', with the running engine too' if both and ctx.current and
                            ctx.current is not rng else ''),
                  _source(ctx, entry, None, [row for row, _v in breaking]))


@finding('client_api_unknown_min_api_raised', 'warning', 'client:NAME', kb=['clients:*', 'engines:*'],
         summary='a container (or declared image) talks to the Docker socket, nothing tells which API version it '
                 'speaks, and the target engine raises the minimum API (Engine 25.0, 29.0): when unknown clients '
                 'break; client_api_unknown (info) otherwise')
def client_api_unknown_min_api_raised(ctx, entry):
    raise_ = ctx.min_api_raise()
    rng = ctx.judged_range
    for client, who, _kind, _data, _how, _row in _verdicts(ctx, 'unknown_raised'):
        before, after, what = raise_
        rows = client_rows(ctx.kb, client)
        why = ('tag %s floats and the knowledge base has no rows for %s' % (_tag(client), client.image_name)
               if not rows else 'the knowledge base has no row for %s %s' % (client.image_name, _tag(client)))
        stopgap = ''
        if rng.env_floor is not None and rng.env_floor < after:
            stopgap = ('; as a stopgap, DOCKER_MIN_API_VERSION in a docker.service drop-in lowers Engine %s\'s minimum '
                       'to no less than %s' % (rng.label, format_api(rng.env_floor)))
        yield hit('client:%s' % client.name,
                  '%s talks to the Docker socket; which API version it speaks is not known (%s), and Engine %s raises '
                  'the minimum API from %s (%s) to %s: a client that speaks an older one fails with "%s"' % (
                      who, why, rng.label, format_api(before), what, format_api(after),
                      TOO_OLD % ('...', format_api(after))),
                  'Find out which API version it speaks before the upgrade: pin the image to a release tag and add '
                  'a clients row for it with the knowledge argument, or declare the client with its api_version in '
                  'the clients_facts `declared` option%s.' % stopgap,
                  _source(ctx, entry, None))


@finding('client_needs_new_engine_first', 'warning', 'client:NAME', kb=['clients:*', 'engines:*'],
         summary='a client the target engine rejects has no release that works with both engines: it can only move '
                 'right after the engine, and its calls fail in between')
def client_needs_new_engine_first(ctx, entry):
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
