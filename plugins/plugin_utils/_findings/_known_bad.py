# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings from known_bad.yml: releases known to break a given configuration."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_version


def _module_missing(expected, host):
    """True when one of the modules is missing from the kernel, None when one of them could not be told."""
    states = [host['kernel_modules'].get(name) for name in expected]
    if 'missing' in states:
        return True
    return None if None in states else False


def _condition_matches(when, daemon, docker):
    """True / False, or None when the facts needed are missing."""
    for cond, expected in when.items():
        host = docker['host'] if docker else None
        if cond == 'kernel_module_missing':
            if host is None:
                return None
            matched = _module_missing(expected, host)
            if matched is not True:
                return matched
            continue
        if cond == 'firewalld':
            running = host['firewalld_active'] if host else None
            if running is None:
                return None
            if ('active' if running else 'inactive') not in expected:
                return False
            continue
        if cond == 'storage_driver':
            value = docker['storage_driver'] if docker else None
        elif cond == 'container':
            value = host['container'] if host else None
        elif daemon is None:
            return None
        else:
            value = daemon['port_driver'] if cond == 'rootless_port_driver' else daemon['net_driver']
        if value is None:
            return None
        if value not in expected:
            return False
    return True


def _rootless_needed(row):
    return row['_rootless']


def _matches(ctx):
    """('bad', row, version, subject, component, line_only) or ('unverified', row, version, label) tuples."""
    def compute():
        kb, host = ctx.kb, ctx.host
        docker = host.docker
        found = []
        target = ctx.target['engine']
        running_engine = docker['version'] if docker else None

        def news(row, label):
            """An engine row the host facts cannot settle is worth an info only when the target moves into it
            (an engine already running that release shows its trouble by itself)."""
            if label != 'engine':
                return True
            return target is not None and not (running_engine is not None and row['_spec'].contains(running_engine))

        def check(component_rows, version, versions_of_daemons, label):
            line_only = len(version.release) == 2
            probe = parse_version('%d.%d.0' % version.line) if line_only else version
            for row in component_rows:
                if not row['_when'] or not _rootless_needed(row):
                    if row['_spec'].contains(probe):
                        matched = _condition_matches(row['_when'], None, docker) if row['_when'] else True
                        if matched:
                            found.append(('bad', row, version, '', label, line_only))
                        elif matched is None and row['_host_conditions'] and news(row, label):
                            found.append(('unverified', row, version, label))
                    continue
                if host.rootless is None:
                    if row['_spec'].contains(probe):
                        found.append(('unverified', row, version, label))
                    continue
                for daemon in host.rootless:
                    own = versions_of_daemons(daemon)
                    if own is None or not row['_spec'].contains(probe if own is version else own):
                        continue
                    if _condition_matches(row['_when'], daemon, docker):
                        found.append(('bad', row, own, 'for rootless user %s' % daemon['user'],
                                      'rootless:%s' % daemon['user'], line_only and own is version))

        engine_rows = kb.known_bad['engine']
        if target is not None:
            check(engine_rows, target, lambda daemon: target, 'engine')
        else:
            # rootful rows against the system daemon, rootless rows against each daemon's own version
            running = docker['version'] if docker else None
            rootless_rows = [r for r in engine_rows if _rootless_needed(r)]
            if running is not None:
                check([r for r in engine_rows if not _rootless_needed(r)], running, lambda daemon: None, 'engine')
            if host.rootless is None and running is not None:
                check(rootless_rows, running, lambda daemon: running, 'engine')
            elif host.rootless is not None:
                check(rootless_rows, running or parse_version('0.0.0'),
                      lambda daemon: daemon['engine_version'] or running, 'engine')
        if kb.known_bad['rootlesskit'] and host.rootless:
            for daemon in host.rootless:
                kit = daemon['rootlesskit_version'] or (docker['rootlesskit_version'] if docker else None)
                if kit is None:
                    continue
                for row in kb.known_bad['rootlesskit']:
                    if row['_spec'].contains(kit) and _condition_matches(row['_when'], daemon, docker):
                        found.append(('bad', row, kit, 'for rootless user %s' % daemon['user'],
                                      'rootless:%s' % daemon['user'], False))
        runc = docker['runc_version'] if docker else None
        if kb.known_bad['runc'] and runc is not None:
            check(kb.known_bad['runc'], runc, lambda daemon: runc, 'runc')
        if kb.known_bad['containerd']:
            version = ctx.target['containerd'] or (host.containerd['installed_version'] if host.containerd else None)
            if version is not None:
                check(kb.known_bad['containerd'], version, lambda daemon: version, 'containerd')
        return found
    return ctx.once('known_bad', compute)


@finding('known_bad_release', 'per row', 'engine|containerd|runc|rootless:USER', kb=['known_bad:*'],
         summary='a release known to break this host\'s configuration (severity from the known_bad row)',
         incident='rootless-slirp4netns-28-0-0')
def known_bad_release(ctx, entry):
    for match in _matches(ctx):
        if match[0] != 'bad':
            continue
        _kind, row, version, subject, component, line_only = match
        shown = version.raw
        if line_only:
            shown += ' (evaluated as %s.%s.0: pin a patch release)' % version.line
        yield hit(component,
                  '[%s] %s %s is known to break%s: %s%s' % (
                      row['id'], row['component'], shown, ' ' + subject if subject else '', row['symptom'],
                      '; fixed in %s' % row['fixed_in'] if row['fixed_in'] else ''),
                  row['remedy'], row['source'], severity=row['severity'])


@finding('known_bad_unverified', 'info', 'engine|containerd|runc', kb=['known_bad:*'],
         summary='a known-bad release for a configuration this host\'s facts cannot show (rootless daemons not '
                 'gathered, kernel modules or container environment unknown)')
def known_bad_unverified(ctx, entry):
    for match in _matches(ctx):
        if match[0] != 'unverified':
            continue
        _kind, row, version, label = match
        needs = ', '.join('%s=%s' % (k, '|'.join(sorted(v))) for k, v in row['_when'].items())
        if row['_host_conditions']:
            docker = ctx.host.docker
            why = ('docker.host was not gathered: facts from an older release of this collection'
                   if docker is None or docker['host'] is None else
                   'docker.host: kernel module lists, container environment or firewalld state not readable')
            yield hit(label,
                      '[%s] %s %s breaks hosts with %s; this host\'s facts cannot tell (%s), so it was not '
                      'checked' % (row['id'], row['component'], version.raw, needs, why),
                      'Check the host by hand (lsmod, modinfo MODULE, systemd-detect-virt, systemctl is-active '
                      'firewalld) before the upgrade. If '
                      'it has that configuration: %s' % row['remedy'],
                      row['source'])
            continue
        yield hit(label,
                  '[%s] %s %s breaks hosts with %s; rootless facts were not gathered, so this host was not '
                  'checked' % (row['id'], row['component'], version.raw, needs),
                  'Run fleetsafe.container_engine.rootless_facts, or make sure no rootless daemon uses that '
                  'configuration. If one does: %s' % row['remedy'],
                  row['source'])
