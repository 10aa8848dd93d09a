# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about dockerd itself: its state, its minimum-API overrides, storage driver, live restore."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    PACKAGE_FAMILIES,
    PACKAGE_FAMILY_TRAITS,
    family_packages,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._daemon_options import storage_driver_state
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit


@finding('engine_facts_unavailable', 'info', 'engine', kb=[],
         summary='the engine could not be asked; the findings that need its answers are missing')
def engine_facts_unavailable(ctx, entry):
    if ctx.host.docker is not None and ctx.host.docker_error:
        yield hit('engine', 'Docker facts are incomplete: %s' % ctx.host.docker_error,
                  'Check that dockerd runs and that the facts module can reach its socket, then gather facts again.',
                  'docs/facts.md (docker.can_talk_to_docker)')


@finding('engine_stale', 'warning', 'engine', kb=['upgrade_rules:engine-package-no-restart'],
         summary='the running dockerd is older than its installed package (the package upgrade did not restart it)',
         incident='lab-engine-package-no-restart')
def engine_stale(ctx, entry):
    stale = ctx.engine_stale()
    if stale is not None:
        running, installed = stale
        yield hit('engine',
                  'dockerd still runs %s although %s is installed: the upgrade is not finished until docker '
                  'restarts' % (running.raw if running else 'an older version',
                                installed.raw if installed else 'a newer version'),
                  'Restart docker (systemctl restart docker) in a maintenance window; with live-restore off its '
                  'containers restart too.', entry.source_of(ctx.kb))


def _override_problems(ctx, unknown_key):
    """(component, engine label, override, complaint, rootless user or None) for the system daemon, then for
    each rootless daemon (its own environment, daemon.json and user unit)."""
    if ctx.target_row is not None or ctx.current_row is not None:
        label = ctx.target['engine'].raw if ctx.target['engine'] else ctx.current_engine.raw
        for item, problem in ctx.override_problems:
            if ('directives' in problem) is unknown_key:
                yield 'engine', label, item, problem, None
    for daemon, item, problem, label in ctx.rootless_override_problems:
        if ('directives' in problem) is unknown_key:
            yield 'rootless:%s' % daemon['user'], label, item, problem, daemon['user']


def _override_hit(entry, ctx, component, label, item, problem, user):
    where = ', '.join(item['where']) or item['source']
    whose = 'dockerd %s' % label if user is None else 'the rootless dockerd %s of %s' % (label, user)
    restart = 'restarting dockerd' if user is None else 'its restart (as %s: systemctl --user restart docker)' % user
    return hit(component,
               '%s would refuse to start with the minimum-API override %s=%s (%s): "%s"' % (
                   whose, 'min-api-version' if item['source'] == 'daemon_json' else 'DOCKER_MIN_API_VERSION',
                   item['value'], where, problem),
               'Upgrade the clients that needed the override first, then remove it from %s (or set it to a value '
               'Engine %s accepts) before %s.' % (where, label, restart),
               entry.source_of(ctx.kb))


@finding('min_api_override_invalid', 'blocker', 'engine', kb=['engines:*', 'upgrade_rules:min-api-override'],
         summary='a leftover DOCKER_MIN_API_VERSION / min-api-version the target dockerd refuses to start with',
         incident='agent-api-too-old')
def min_api_override_invalid(ctx, entry):
    for found in _override_problems(ctx, False):
        yield _override_hit(entry, ctx, *found)


@finding('min_api_override_unsupported', 'blocker', 'engine',
         kb=['engines:*', 'upgrade_rules:daemon-json-unknown-key'],
         summary='min-api-version in daemon.json on an engine before 29.0: an unknown key, so dockerd refuses to '
                 'start', incident='lab-min-api-override')
def min_api_override_unsupported(ctx, entry):
    for found in _override_problems(ctx, True):
        yield _override_hit(entry, ctx, *found)


@finding('min_api_override_ignored', 'info', 'engine', kb=['engines:*', 'upgrade_rules:min-api-override'],
         summary='DOCKER_MIN_API_VERSION set for an engine before 25.0, which does not read it')
def min_api_override_ignored(ctx, entry):
    if ctx.target_row is None and ctx.current_row is None:
        return
    label = ctx.target['engine'].raw if ctx.target['engine'] else ctx.current_engine.raw
    for item in ctx.override_ignored:
        yield hit('engine',
                  'DOCKER_MIN_API_VERSION=%s (%s) has no effect on Engine %s: the variable is read from 25.0 on' % (
                      item['value'], ', '.join(item['where']) or item['source'], label),
                  'Remove it, or keep it only if the host will move to 25.0 or later and still needs it.',
                  entry.source_of(ctx.kb))


def _storage(ctx):
    docker = ctx.host.docker
    if docker is None:
        return None
    driver = docker['storage_driver']
    version = ctx.target['engine'] or docker['version']
    if not driver or version is None or driver not in ctx.kb.storage_drivers:
        return None
    return driver, version, ctx.kb.storage_drivers[driver]


@finding('storage_driver_removed', 'blocker', 'engine', kb=['storage_drivers:*'],
         summary='the engine (target, else running) removed the host\'s storage driver',
         incident='lab-storage-driver-removed')
def storage_driver_removed(ctx, entry):
    found = _storage(ctx)
    if found is None:
        return
    driver, version, row = found
    if storage_driver_state(row, version) == 'removed':
        yield hit('engine',
                  'the daemon uses the %s storage driver, which Engine %s removed: dockerd %s cannot use the '
                  'existing images and containers' % (driver, row['removed_in'], version.raw),
                  'Migrate to %s (export or rebuild images, recreate containers) before moving to Engine %s or '
                  'later.' % (row['replacement'], row['removed_in']),
                  row['source'])


@finding('storage_driver_deprecated', 'warning', 'engine', kb=['storage_drivers:*'],
         summary='the host\'s storage driver is deprecated in the engine (target, else running)')
def storage_driver_deprecated(ctx, entry):
    found = _storage(ctx)
    if found is None:
        return
    driver, version, row = found
    if storage_driver_state(row, version) in ('deprecated', 'disabled_by_default'):
        yield hit('engine',
                  'the %s storage driver is deprecated since Engine %s%s' % (
                      driver, row['deprecated_in'], ' and removed in %s' % row['removed_in'] if row['removed_in']
                      else ''),
                  'Plan a migration to %s.' % row['replacement'], row['source'])


def _line_change(ctx):
    docker = ctx.host.docker
    target = ctx.target['engine']
    if docker is None or target is None or docker['version'] is None or target.line == docker['version'].line:
        return None
    return docker, docker['version'], target


@finding('live_restore_not_covering', 'warning', 'engine', kb=['upgrade_rules:live-restore-patch-only'],
         summary='live-restore is on, but it is promised across patch releases only, and the target changes the '
                 'minor or major version', incident='lab-live-restore')
def live_restore_not_covering(ctx, entry):
    change = _line_change(ctx)
    if change is None or not change[0]['live_restore']:
        return
    docker, running, target = change
    count = docker['running']
    yield hit('engine',
              'live-restore is on, but it is promised only across patch releases: %s -> %s changes the %s version, '
              'so expect %s to restart' % (
                  running.raw, target.raw, 'major' if target.line[0] != running.line[0] else 'minor',
                  'the %d running containers' % count if count is not None else 'the host\'s running containers'),
              'Treat the upgrade as a restart of every container: drain or schedule it like one.',
              entry.source_of(ctx.kb))


@finding('engine_restart_stops_containers', 'info', 'engine', kb=['upgrade_rules:live-restore-patch-only'],
         summary='live-restore is off: restarting dockerd for the target stops and restarts the running containers')
def engine_restart_stops_containers(ctx, entry):
    change = _line_change(ctx)
    if change is None or change[0]['live_restore'] is not False or not change[0]['running']:
        return
    docker, _running, target = change
    yield hit('engine',
              'live-restore is off: restarting dockerd for %s stops and restarts the %d running containers' % (
                  target.raw, docker['running']),
              'Schedule the restart, or drain the host first.', entry.source_of(ctx.kb))


@finding('package_family_mismatch', 'blocker', 'engine', kb=[],
         summary='the host runs one package family (Debian\'s docker.io / Docker\'s docker-ce) and the operator asks '
                 'for the other without allowing the switch')
def package_family_mismatch(ctx, entry):
    asked = ctx.target['package_family']
    if asked is None or ctx.target['package_family_switch']:
        return
    for component, section in (('engine', ctx.host.docker), ('containerd', ctx.host.containerd)):
        running = (section or {}).get('package_family')
        if running is not None and running != asked:
            names, wanted = PACKAGE_FAMILIES[running], PACKAGE_FAMILIES[asked]
            yield hit(component,
                      'the host runs %s\'s %s package %s, but the %s family (%s) is asked for: installing it would '
                      'remove %s (their packages conflict), a family switch nobody asked for' % (
                          'Docker' if running == 'docker-ce' else 'Debian', component, names[component], asked,
                          wanted[component], names[component]),
                      'Ask for the family the host runs (upgrade_package_family: %s), or switch the host to the %s '
                      'family on purpose: upgrade_package_family_switch: true (the filters\' '
                      'target.package_family_switch) removes %s\'s packages and installs %s\'s in one apt '
                      'transaction, keeping containers, images and volumes (docs/package-families.md).' % (
                          running, asked, running, asked),
                      'facts (%s.package_family)' % ('docker' if component == 'engine' else 'containerd'))


@finding('package_family_switch_moves_release', 'blocker', 'engine', kb=[],
         summary='a switch of package families is asked together with another engine or containerd release: the switch '
                 'keeps the releases (one apt transaction between two families at the same versions)')
def package_family_switch_moves_release(ctx, entry):
    switch = ctx.family_switch()
    if switch is None:
        return
    for component, now, wanted in switch['moves']:
        yield hit(component,
                  'the switch from the %s to the %s package family is asked with %s %s, but the host has %s: a switch '
                  'keeps the release' % (switch['from'], switch['to'], component, wanted, now or 'none installed'),
                  'Switch at the release the host has (target %s: %s), then upgrade in a run of its own.' % (
                      component, now), 'facts (%s installed version) and the target' % component)


# --- a switch and the rootless daemons --------------------------------------------------------------------------------
SETUPTOOL = 'dockerd-rootless-setuptool.sh'


def _rootless_judged(ctx):
    """(switch, daemon, package the switch removes or None) for each rootless daemon when a family switch is asked."""
    switch = ctx.family_switch()
    if switch is None:
        return
    removed = family_packages(switch['from'])
    for daemon in ctx.host.rootless or []:
        package = None
        if daemon['script_family'] == switch['from']:
            package = PACKAGE_FAMILY_TRAITS[switch['from']]['rootless_script_package']
            package = package if package in removed else None
        yield switch, daemon, package


def _rootless_whose(daemon):
    return 'the rootless dockerd of %s (systemd --user unit %s)' % (daemon['user'], daemon['systemd_unit'] or 'unknown')


@finding('package_family_switch_breaks_rootless', 'blocker', 'rootless:USER', kb=[],
         summary='a switch of package families is asked, but a rootless daemon starts from the dockerd-rootless.sh of '
                 'the family the switch removes: its user unit would not start again after the switch')
def package_family_switch_breaks_rootless(ctx, entry):
    for switch, daemon, package in _rootless_judged(ctx):
        if package is None:
            continue
        old_dir = PACKAGE_FAMILY_TRAITS[switch['from']]['rootless_script_dir']
        new_dir = PACKAGE_FAMILY_TRAITS[switch['to']]['rootless_script_dir']
        new_package = PACKAGE_FAMILY_TRAITS[switch['to']]['rootless_script_package']
        yield hit('rootless:%s' % daemon['user'],
                  '%s starts %s, which %s ships: the switch from the %s to the %s family removes %s, so that unit '
                  'would not start again after the switch' % (
                      _rootless_whose(daemon), daemon['script'], package, switch['from'], switch['to'], package),
                  'Before the switch, as %s: %s/%s uninstall (stops the daemon and removes its unit; its images, '
                  'containers and volumes under the user\'s data-root stay), then switch; after it, as %s: %s/%s '
                  'install (from %s, which the switch installs where the host had the old family\'s rootless '
                  'package). The new family\'s script cannot be set up before the switch: its package conflicts '
                  'with the installed ones. Or leave this host out of the switch (docs/package-families.md).' % (
                      daemon['user'], old_dir, SETUPTOOL, daemon['user'], new_dir, SETUPTOOL, new_package),
                  'facts (rootless.daemons[].script_family) and the target')


@finding('package_family_switch_rootless_unknown', 'blocker', 'rootless|rootless:USER', kb=[],
         summary='a switch of package families is asked, but the facts cannot say which dockerd-rootless.sh the '
                 'rootless daemons start from (rootless facts not gathered, or gathered by a release that did not '
                 'read it)')
def package_family_switch_rootless_unknown(ctx, entry):
    switch = ctx.family_switch()
    if switch is None:
        return
    if ctx.host.rootless is None:
        yield hit('rootless',
                  'the switch from the %s to the %s family removes the %s family\'s dockerd-rootless.sh, and rootless '
                  'facts were not gathered: a rootless daemon started from it would not start again, and nothing '
                  'here can tell whether the host has one' % (switch['from'], switch['to'], switch['from']),
                  'Gather fleetsafe.container_engine.rootless_facts with the other facts (the upgrade role does), '
                  'then plan the switch again.', 'facts (rootless section)')
        return
    for daemon in ctx.host.rootless:
        if not daemon['script_known']:
            yield hit('rootless:%s' % daemon['user'],
                      '%s: its facts do not say which dockerd-rootless.sh starts it (gathered by an older release of '
                      'this collection), so the switch from the %s to the %s family cannot tell whether it removes '
                      'that script' % (_rootless_whose(daemon), switch['from'], switch['to']),
                      'Gather the facts again with this release\'s fleetsafe.container_engine.rootless_facts, then '
                      'plan the switch again.', 'facts (rootless.daemons[].script)')


@finding('package_family_switch_rootless_unverified', 'warning', 'rootless:USER', kb=[],
         summary='a switch of package families is asked and a rootless daemon starts from a dockerd-rootless.sh '
                 'neither family ships (a copy elsewhere), or not from that script: the switch cannot tell whether '
                 'the daemon starts again')
def package_family_switch_rootless_unverified(ctx, entry):
    for switch, daemon, _package in _rootless_judged(ctx):
        if not daemon['script_known'] or daemon['script_family'] is not None:
            continue
        started = ('starts %s, a copy no package of either family ships' % daemon['script'] if daemon['script']
                   else 'was not started by dockerd-rootless.sh')
        yield hit('rootless:%s' % daemon['user'],
                  '%s %s: the switch from the %s to the %s family does not remove it, but replaces /usr/bin/dockerd '
                  'and rootlesskit with the new family\'s, and cannot tell whether that daemon starts again' % (
                      _rootless_whose(daemon), started, switch['from'], switch['to']),
                  'After the switch, as %s: systemctl --user restart %s and check docker info. A static install '
                  'that carries its own binaries is not touched by the switch; one that runs /usr/bin/dockerd '
                  'runs the new family\'s.' % (daemon['user'], daemon['systemd_unit'] or 'docker.service'),
                  'facts (rootless.daemons[].script, script_family) and the target')
