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
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError, describe, kind


def _step(action, component, from_, to, reason, resolves=()):
    return {'order': 0, 'action': action, 'component': component, 'from': from_, 'to': to, 'reason': reason,
            'resolves': list(resolves)}


def _raw(version):
    return version.raw if version is not None else None


VERDICT_FINDING = {'too_old': 'client_api_too_old', 'too_new': 'client_api_too_new'}


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
            # the target names the release: compat_findings judges that release, so the step resolves nothing
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
        move = ctx.client_move(client)
        if move is None:
            continue
        when, row = move
        bound = row['_spec'].lower_bound()
        resolves = [VERDICT_FINDING[judge(kind_now, data_now, new)]]
        if when == 'before':
            before.append(_step('upgrade_client', component, current_tag, bound.raw if bound else row['versions'],
                                'Engine %s rejects %s as it is; %s %s works with %s (%s)' % (
                                    new.label, client.name, client.image_name, row['versions'],
                                    'both engines' if engine_changes else 'it', row['source']), resolves))
        else:
            after.append(_step('upgrade_client', component, current_tag, bound.raw if bound else row['versions'],
                               'no %s release works with both engines: upgrade it right after the engine; it is down '
                               'in between (%s)' % (product, row['source']), resolves))


def _containerd_findings(ctx):
    """The findings a restart of the running containerd resolves (it then runs what is installed)."""
    if ctx.containerd_restart() is None:
        return []
    return ['containerd_shim_protocol_mismatch' if ctx.shim_mismatch() is not None else 'containerd_restart_required']


def client_moves(ctx):
    """{client name: its upgrade_client step} for every client the plan moves (before or after the engine)."""
    before, after = [], []
    _client_steps(ctx, before, after)
    return {step['component'][len('client:'):]: step for step in before + after}


def _engine_follows(ctx):
    """What a containerd restart does to dockerd, for a containerd step's reason: the engine facts'
    restarts_with_containerd (read from the engine's unit as systemd has it loaded, never from the family or the
    release)."""
    docker = ctx.host.docker or {}
    if not docker.get('restarts_with_containerd'):
        return ''
    return ('; docker.service %s, so systemd restarts dockerd with containerd: the step stops the running containers '
            'first while the API answers and starts them again once containerd and dockerd answer' % (
                docker.get('containerd_dependency') or 'requires containerd.service'))


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
                           'the running daemon is older than the installed package (%s)%s' % (
                               '; '.join(reasons), _engine_follows(ctx)),
                           _containerd_findings(ctx)))
    if change is None:
        return steps
    start, target, _row = change
    # each upgrade restarts containerd within the step (the package's postinst, else the role): a running 1.x daemon
    # cannot start the 2.x shim until restarted, so no step ends with containerd older than its binary
    hops = [hop for hop in ctx.containerd_hops() if hop['last'] or not hop['lacking']]
    resolves = _containerd_findings(ctx)
    for hop in hops:
        reason = ('supported upgrade path: from the previous minor only' if len(hops) > 1
                  else 'target containerd version')
        if target.line < start.line:
            reason = 'downgrade: running containers are stopped; start them again afterwards'
        reason += '' if hop['last'] else ' (latest %s patch release)' % hop['to']
        reason += '; containerd restarts within the step' + _engine_follows(ctx)
        step = _step('upgrade_containerd', 'containerd', hop['from'], hop['to'], reason, resolves)
        if ctx.apt is not None:
            step['packages'] = hop['packages']
        steps.append(step)
        resolves = []
    return steps


def _engine_steps(ctx):
    steps = []
    docker = ctx.host.docker
    if docker is None:
        return steps
    target = ctx.target['engine']
    stale = ['engine_stale'] if ctx.engine_stale() is not None else []
    if ctx.engine_changes:
        step = _step('upgrade_engine', 'engine', _raw(ctx.installed_engine), target.raw, 'target engine version')
        if ctx.apt is not None:
            step['packages'] = ctx.engine_packages()[0]
        steps.append(step)
        steps.append(_step('restart_engine', 'engine', _raw(docker['version']), target.raw,
                           'the package upgrade does not restart dockerd', stale))
        for daemon in ctx.host.rootless or []:
            steps.append(_step('restart_rootless_engine', 'rootless:%s' % daemon['user'],
                               _raw(daemon['engine_version']), target.raw,
                               'the user\'s docker.service keeps running the old dockerd until restarted'))
        return steps
    if stale:
        running, installed = ctx.engine_stale()
        steps.append(_step('restart_engine', 'engine', _raw(running), _raw(installed),
                           'dockerd runs an older version than the installed package', stale))
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


def _daemon_edit_steps(ctx):
    """daemon.json settings the target dockerd would refuse: edit the file before the engine moves. A flag in a unit
    or drop-in is no step: the plan cannot edit it, the blocker daemon_option_refused names its file."""
    steps = []
    for engine, written, judged, file in judged_settings(ctx):
        if judged['starts'] is False and file is None:
            step = _step('edit_daemon_config', 'engine', written, judged['replacement'],
                         'dockerd %s would refuse to start: "%s"; %s' % (
                             engine.raw, judged['message'], judged['remedy']))
            step.update(where=judged['where'], setting=judged['setting'], edit=_daemon_edit(judged))
            step['resolves'] = ['daemon_option_refused'] if step['edit'] else []
            steps.append(step)
    return steps


def _switch_steps(ctx, switch):
    """A switch of package families is one step: one apt transaction installs the new family's packages at the same
    engine and containerd releases and removes the old family's (their packages conflict: no half-way state is
    installable); the containers stop before it and start again after it, like the engine step's. With preflight.apt
    the step carries what it installs (packages), removes (remove) and apt's plan of it (apt_plan)."""
    step = _step('switch_family', 'engine', switch['from'], switch['to'],
                 'the operator asks for the %s package family (package_family_switch): one apt transaction installs it '
                 'at engine %s and containerd %s and removes the %s family\'s packages; containers stop before it and '
                 'start again after it' % (switch['to'], switch['engine'], switch['containerd'], switch['from']),
                 ['engine_stale'] if ctx.engine_stale() is not None else [])
    step.update(engine=switch['engine'], containerd=switch['containerd'])
    found = ctx.apt['switch'] if ctx.apt is not None else None
    if found is not None:
        step.update(packages=found['packages'], remove=found['remove'], apt_plan=found['plan'])
    return [step]


def plan_steps(ctx):
    """The ordered steps, each naming in ``resolves`` the ids of the findings it removes on its component."""
    check_knowledge(ctx.kb)
    before, after = [], []
    _client_steps(ctx, before, after)
    # a minimum-API override the target dockerd refuses is no step: only an operator knows which client needed it,
    # so it stays the blocker min_api_override_invalid, whose remedy says what to do
    switch = ctx.family_switch()
    if ctx.engine_changes and switch is None:
        before += _daemon_edit_steps(ctx)
    steps = before + (_switch_steps(ctx, switch) if switch else _containerd_steps(ctx) + _engine_steps(ctx)) + after
    for index, step in enumerate(steps, 1):
        step['order'] = index
    return steps


def upgrade_plan(facts, target=OMITTED, knowledge=None, preflight=None):
    ctx = Context(facts, target, knowledge, preflight)
    check_plannable(ctx.host, ctx.target)
    return plan_steps(ctx)


def _read_steps(plan):
    if not isinstance(plan, list):
        raise InputError('plan must be the list upgrade_plan returns (the steps that will run), got %s %s' % (
            kind(plan), describe(plan)))
    for index, step in enumerate(plan):
        if not isinstance(step, dict) or not isinstance(step.get('component'), str) or \
                not isinstance(step.get('resolves'), list):
            raise InputError('plan[%d] is not a step of upgrade_plan (a dict with component and resolves), got %s'
                             % (index, describe(step)))
    return plan


def left_after(ctx, findings, plan):
    """The findings the plan's steps leave: a step resolves the findings named in its ``resolves`` on its component;
    an edit_daemon_config step only the daemon_option_refused finding of its own setting."""
    resolved = set()
    edited = set()
    for step in _read_steps(plan):
        if step.get('action') == 'edit_daemon_config':
            edited.update((step.get('where'), step.get('setting')) for fid in step['resolves']
                          if fid == 'daemon_option_refused')
            continue
        resolved.update((fid, step['component']) for fid in step['resolves'])
    messages = set()
    for engine, written, judged, file in judged_settings(ctx):
        if file is None and (judged['where'], judged['setting']) in edited and judged['starts'] is False:
            messages.add(refused_message(ctx, engine, written, judged, file))
    return [f for f in findings if (f['id'], f['component']) not in resolved
            and not (f['id'] == 'daemon_option_refused' and f['message'] in messages)]
