# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about containerd: a daemon older than its package, the shim protocol, the upgrade path."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import SHIM_ERROR


def _line(version):
    return '%d.%d' % version.line


@finding('containerd_shim_protocol_mismatch', 'blocker', 'containerd',
         kb=['containerd:*', 'upgrade_rules:containerd-restart-after-upgrade'],
         summary='the running containerd cannot start the installed runc shim (unsupported shim version (3))',
         incident='containerd-shim-v3')
def containerd_shim_protocol_mismatch(ctx, entry):
    mismatch = ctx.shim_mismatch()
    if mismatch is None:
        return
    running, shim, accepted, produced = (mismatch[k] for k in ('running', 'shim', 'accepted', 'produced'))
    if produced >= 2 and max(accepted) >= 2:
        symptom = 'every new container start fails with "%s"' % (SHIM_ERROR % produced)
    else:
        symptom = 'the daemon cannot read the JSON bootstrap answer of the new shim, so new container starts fail'
    running_row = mismatch['running_row']
    yield hit('containerd',
              'containerd %s is still running, but the installed runc shim (%s) answers with bootstrap protocol %d, '
              'which a running %s daemon does not accept (it accepts %s): %s; running containers keep running, a '
              'restarted one stays Exited (128)' % (
                  running.raw if running else '(running version unknown)', shim.raw if shim else 'unknown version',
                  produced, _line(running) if running else 'containerd', ', '.join(str(x) for x in accepted),
                  symptom),
              'Restart containerd now (systemctl restart containerd), then docker if it does not recover.',
              '%s; %s' % (entry.source_of(ctx.kb), running_row['source'] if running_row else 'facts'))


@finding('containerd_restart_required', 'warning', 'containerd',
         kb=['upgrade_rules:containerd-restart-after-upgrade'],
         summary='the running containerd is older than its installed binary, without breaking new containers yet')
def containerd_restart_required(ctx, entry):
    reasons = ctx.containerd_restart()
    if reasons is not None and ctx.shim_mismatch() is None:
        yield hit('containerd', 'containerd needs a restart to run what is installed (%s)' % '; '.join(reasons),
                  'Restart containerd (systemctl restart containerd) in a maintenance window.', entry.source_of(ctx.kb))


@finding('containerd_restart_with_upgrade', 'warning', 'containerd',
         kb=['containerd:*', 'upgrade_rules:containerd-restart-after-upgrade'],
         summary='between installing the target containerd and restarting it, new containers fail',
         incident='containerd-shim-v3')
def containerd_restart_with_upgrade(ctx, entry):
    window = ctx.restart_window()
    if window is None:
        return
    running, produced = window
    message = ('between installing containerd %s and restarting it, the running %s daemon cannot start the new '
               'shim: every new container start fails with "%s"')
    yield hit('containerd', message % (ctx.target['containerd'].raw, running.raw, SHIM_ERROR % produced),
              'Restart containerd in the same step as the package upgrade (Debian\'s postinst does unless '
              'policy-rc.d forbids it; the docker_engine role always does).', entry.source_of(ctx.kb))


def _upgrade(ctx):
    """(start, target, start_row) for a containerd upgrade to another line, else None."""
    change = ctx.containerd_change()
    if change is None:
        return None
    start, target, _row = change
    if target < start or target.line == start.line:
        return None
    return start, target, ctx.kb.containerd_row(start)


@finding('containerd_downgrade', 'warning', 'containerd',
         kb=['upgrade_rules:containerd-downgrade-kills-containers'],
         summary='the target moves containerd down a line: running containers are stopped',
         incident='lab-containerd-downgrade')
def containerd_downgrade(ctx, entry):
    change = ctx.containerd_change()
    if change is None:
        return
    start, target, _row = change
    if target < start and target.line < start.line:
        yield hit('containerd',
                  'moving containerd from %s down to %s: a downgrade stopped every running container on the lab '
                  '(Exited (137)) and orphaned their shims' % (start.raw, target.raw),
                  'Record what runs, downgrade in a maintenance window, then start those containers again.',
                  entry.source_of(ctx.kb))


@finding('containerd_unknown_line', 'info', 'containerd', kb=['containerd:*', 'upgrade_rules:containerd-upgrade-path'],
         summary='the installed containerd is on a line the knowledge base does not describe; the path is not checked')
def containerd_unknown_line(ctx, entry):
    upgrade = _upgrade(ctx)
    if upgrade is not None and upgrade[2] is None:
        start, target, _row = upgrade
        yield hit('containerd',
                  'containerd %s is on a line the knowledge base does not describe; the upgrade path to %s is not '
                  'checked' % (start.raw, target.raw),
                  'Add the line with the knowledge argument.', entry.source_of(ctx.kb))


def _path(ctx):
    upgrade = _upgrade(ctx)
    if upgrade is None or upgrade[2] is None:
        return None
    start, target, _row = upgrade
    return start, target, ctx.kb.containerd_path(start.line, target.line)


@finding('containerd_no_upgrade_path', 'blocker', 'containerd',
         kb=['containerd:*', 'upgrade_rules:containerd-upgrade-path'],
         summary='the knowledge base has no supported upgrade path between the two containerd lines')
def containerd_no_upgrade_path(ctx, entry):
    found = _path(ctx)
    if found is not None and found[2] is None:
        start, target, _path_lines = found
        yield hit('containerd',
                  'no supported upgrade path from containerd %s to %s in the knowledge base' % (start.raw, target.raw),
                  'Check containerd RELEASES.md and the release notes; add the path with the knowledge argument.',
                  entry.source_of(ctx.kb))


@finding('containerd_skipped_minor', 'warning', 'containerd',
         kb=['containerd:*', 'upgrade_rules:containerd-upgrade-path'],
         summary='the target skips a containerd minor line (upgrades are supported from the previous minor only)')
def containerd_skipped_minor(ctx, entry):
    found = _path(ctx)
    if found is not None and found[2] is not None and len(found[2]) > 1:
        start, target, path = found
        yield hit('containerd',
                  'containerd %s -> %s skips %s: upgrades are supported from the previous minor only' % (
                      start.raw, target.raw, ', '.join('%d.%d' % line for line in path[:-1])),
                  'Upgrade one line at a time (%s), restarting containerd after each; upgrade_plan lists the '
                  'steps.' % ' -> '.join(['%d.%d' % start.line] + ['%d.%d' % line for line in path]),
                  entry.source_of(ctx.kb))


@finding('containerd_config_migration', 'info', 'containerd',
         kb=['upgrade_rules:containerd-config-migration'],
         summary='a version 2 config.toml that containerd 2.x migrates to version 3 on start')
def containerd_config_migration(ctx, entry):
    upgrade = _upgrade(ctx)
    if upgrade is None:
        return
    start, target, _row = upgrade
    if ctx.host.containerd['config_version'] == 2 and target.line >= (2, 0) and start.line < (2, 0):
        yield hit('containerd',
                  'config.toml is version 2; containerd %s migrates it to version 3 on start' % target.raw,
                  'Fix deprecation warnings of the current containerd first; migrate the file with `containerd '
                  'config migrate` once the upgrade is done.', entry.source_of(ctx.kb))
