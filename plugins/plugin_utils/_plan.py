# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""upgrade_plan: the ordered steps to a target, from the same judgements the findings use (_judge.py)."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import OMITTED, check_plannable
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._daemon_options import (
    judged_settings,
    refused_message,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import check_knowledge
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import (
    Context,
    client_api,
    client_product,
    judge,
)


def _step(action, component, from_, to, reason):
    return {'order': 0, 'action': action, 'component': component, 'from': from_, 'to': to, 'reason': reason}


def _raw(version):
    return version.raw if version is not None else None


def _client_steps(ctx, before, after):
    """Clients the target engine rejects go first when a release works on both engines, else right after."""
    kb, host = ctx.kb, ctx.host
    engine_changes = ctx.engine_changes
    old, new = ctx.current, (ctx.target_range if engine_changes else ctx.current)
    for client in host.clients:
        if client.image_name is None:
            # a program or library (docker-py in a cron job): no step can move it, so its blocker stays a blocker
            # and its remedy names the release to move to
            continue
        new_version = ctx.target['clients'].get(client.name)
        kind_now, data_now, _how, _row = client_api(kb, client)
        current_tag = client.image_tag
        component = 'client:%s' % client.name
        product = client_product(kb, client)
        if new_version is not None:
            if new_version.raw == current_tag:
                continue
            kind_new, data_new, how_new, _row = client_api(kb, client, new_version)
            ok_old = judge(kind_new, data_new, old) == 'ok' if old else True
            ok_new = judge(kind_new, data_new, new) == 'ok' if new else True
            if ok_old:
                before.append(_step('upgrade_client', component, current_tag, new_version.raw,
                                    '%s %s works with the current and the target engine (%s)' % (
                                        product, new_version.raw, how_new or 'API not known')))
            elif ok_new:
                after.append(_step('upgrade_client', component, current_tag, new_version.raw,
                                   '%s %s needs the new engine; %s' % (
                                       product, new_version.raw,
                                       'it keeps working until then' if judge(kind_now, data_now, new) == 'ok'
                                       else 'it is down between the engine restart and this step')))
            continue
        # a client the engine rejects after the step (or already, when the engine stays) moves to a release it accepts
        if new is None or judge(kind_now, data_now, new) not in ('too_old', 'too_new'):
            continue
        both, later = ctx.client_releases(client, upgrade=True)
        if both:
            best = both[-1]
            bound = best['_spec'].lower_bound()
            before.append(_step('upgrade_client', component, current_tag, bound.raw if bound else best['versions'],
                                'Engine %s rejects %s as it is; %s %s works with %s (%s)' % (
                                    new.label, client.name, client.image_name, best['versions'],
                                    'both engines' if engine_changes else 'it', best['source'])))
        elif later:
            bound = later[-1]['_spec'].lower_bound()
            after.append(_step('upgrade_client', component, current_tag, bound.raw if bound else later[-1]['versions'],
                               'no %s release works with both engines: upgrade it right after the engine; it is down '
                               'in between (%s)' % (product, later[-1]['source'])))


def client_moves(ctx):
    """{client name: its upgrade_client step} for every client the plan moves (before or after the engine)."""
    before, after = [], []
    _client_steps(ctx, before, after)
    return {step['component'][len('client:'):]: step for step in before + after}


def _containerd_steps(ctx):
    steps = []
    c = ctx.host.containerd
    if c is None:
        return steps
    change = ctx.containerd_change()
    reasons = ctx.containerd_restart()
    if reasons is not None and change is None:
        steps.append(_step('restart_containerd', 'containerd', _raw(c['running_version']),
                           _raw(c['installed_version']),
                           'the running daemon is older than the installed package (%s)' % '; '.join(reasons)))
    if change is None:
        return steps
    start, target, _row = change
    path = ctx.kb.containerd_path(start.line, target.line) if target.line > start.line else None
    hops = path if path else [target.line]
    previous = start.raw
    for index, line in enumerate(hops):
        last = index == len(hops) - 1
        to = target.raw if last else '%d.%d' % line
        reason = ('supported upgrade path: from the previous minor only' if len(hops) > 1
                  else 'target containerd version')
        if target.line < start.line:
            reason = 'downgrade: running containers are stopped; start them again afterwards'
        steps.append(_step('upgrade_containerd', 'containerd', previous, to,
                           reason + ('' if last else ' (latest %s patch release)' % to)))
        steps.append(_step('restart_containerd', 'containerd', previous, to,
                           'a running containerd keeps its old version; a 1.x daemon cannot start the 2.x shim until '
                           'restarted'))
        previous = to
    return steps


def _engine_steps(ctx):
    steps = []
    docker = ctx.host.docker
    if docker is None:
        return steps
    target = ctx.target['engine']
    if ctx.engine_changes:
        steps.append(_step('upgrade_engine', 'engine', _raw(ctx.installed_engine), target.raw, 'target engine version'))
        steps.append(_step('restart_engine', 'engine', _raw(docker['version']), target.raw,
                           'the package upgrade does not restart dockerd'))
        for daemon in ctx.host.rootless or []:
            steps.append(_step('restart_rootless_engine', 'rootless:%s' % daemon['user'],
                               _raw(daemon['engine_version']), target.raw,
                               'the user\'s docker.service keeps running the old dockerd until restarted'))
        return steps
    if ctx.engine_stale() is not None:
        running, installed = ctx.engine_stale()
        steps.append(_step('restart_engine', 'engine', _raw(running), _raw(installed),
                           'dockerd runs an older version than the installed package'))
    # a rootless daemon left on another dockerd than the installed one (a restart that failed, a re-run)
    installed = ctx.installed_engine
    for daemon in ctx.host.rootless or []:
        running = daemon['engine_version']
        if installed is not None and running is not None and running.release != installed.release:
            steps.append(_step('restart_rootless_engine', 'rootless:%s' % daemon['user'], running.raw, installed.raw,
                               'the user\'s docker.service runs dockerd %s, the installed package is %s' % (
                                   running.raw, installed.raw)))
    return steps


# where a daemon.json setting can be written for the role to edit it (fleetsafe.container_engine.daemon_config_edit)
_EDITABLE_PLACES = ('daemon_json', 'log_opt', 'storage_opt')


def _daemon_edit(judged):
    """rename (to the row's replacement, same value), remove (the row is removable: the setting has done nothing
    for releases before the one that refuses it) or None (an operator must decide: the finding stays a blocker and
    the role never edits it)."""
    if judged['where'] not in _EDITABLE_PLACES:
        return None
    if judged['replacement']:
        return 'rename'
    return 'remove' if judged['removable'] else None


def upgrade_plan(facts, target=OMITTED, knowledge=None):
    ctx = Context(facts, target, knowledge)
    check_plannable(ctx.host, ctx.target)
    check_knowledge(ctx.kb)
    before, after = [], []
    _client_steps(ctx, before, after)
    # overrides the target dockerd would refuse to start with
    if ctx.engine_changes:
        for item, problem in ctx.override_problems:
            before.append(_step('remove_min_api_override', 'engine', item['value'], None,
                                'dockerd %s would refuse to start: %s (%s)' % (
                                    ctx.target['engine'].raw, problem, ', '.join(item['where']) or item['source'])))
        for daemon, item, problem, label in ctx.rootless_override_problems:
            before.append(_step('remove_min_api_override', 'rootless:%s' % daemon['user'], item['value'], None,
                                'the rootless dockerd %s of %s would refuse to start: %s (%s)' % (
                                    label, daemon['user'], problem, ', '.join(item['where']) or item['source'])))
        # daemon.json settings the target dockerd would refuse: edit the file before the engine moves. A flag
        # in a unit or drop-in is no step: the plan cannot edit it, the blocker daemon_option_refused names its file.
        for engine, written, judged, file in judged_settings(ctx):
            if judged['starts'] is False and file is None:
                step = _step('edit_daemon_config', 'engine', written, judged['replacement'],
                             'dockerd %s would refuse to start: "%s"; %s' % (
                                 engine.raw, judged['message'], judged['remedy']))
                step.update(where=judged['where'], setting=judged['setting'], edit=_daemon_edit(judged))
                # the daemon_option_refused finding this edit removes, by its exact message
                step['resolves'] = [refused_message(ctx, engine, written, judged, file)] if step['edit'] else []
                before.append(step)
    steps = before + _containerd_steps(ctx) + _engine_steps(ctx) + after
    if steps:
        steps.append(_step('verify', 'host', None, None,
                           'gather facts again: compat_findings must return no blocker, containerd and dockerd must '
                           'run the installed versions, every client must answer'))
    for index, step in enumerate(steps, 1):
        step['order'] = index
    return steps
