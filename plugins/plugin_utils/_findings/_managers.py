# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about clients that something else manages (docs/findings.md, family "managers"): a client that must move
for the target but that Docker Compose or a swarm service recreates from its own definition.

A container recreated from another image behind its manager's back does not stay moved: Compose brings the image its
file names back at the next ``up --force-recreate``, ``down``/``up`` or change to the service, and the swarm replaces
a task it did not start (docs/managed_clients.md). So such a client moves through its manager or not at all."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._judge import client_api, judge
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._plan import client_moves

SOURCE = 'docs/managed_clients.md (lab: Compose 2.26.1 and a swarm service on Engine 26.1.5)'


def _moving(ctx, managed_by):
    """(client, image it must move to or None when no release is known) for every client of this manager that the
    plan moves, or that the target refuses with no release to move to."""
    steps = ctx.once('client_moves', lambda: client_moves(ctx))
    rng = ctx.judged_range
    for client in ctx.host.clients:
        if client.managed_by != managed_by:
            continue
        step = steps.get(client.name)
        if step is not None:
            yield client, '%s:%s' % (client.image_name, step['to'])
            continue
        if rng is None:
            continue
        kind, data, _how, _row = client_api(ctx.kb, client, ctx.target['clients'].get(client.name))
        if kind != 'unknown' and judge(kind, data, rng) in ('too_old', 'too_new'):
            yield client, None


@finding('client_swarm_managed', 'blocker', 'client:NAME', kb=['clients:*', 'engines:*'],
         summary='a client that must move runs as a swarm service task: only the swarm can move it')
def client_swarm_managed(ctx, entry):
    for client, image in _moving(ctx, 'swarm'):
        swarm = client.manager
        service = swarm['service_name'] or swarm['service_id']
        yield hit('client:%s' % client.name,
                  '%s (%s) is a task of the swarm service %s%s: a container recreated from another image behind the '
                  'swarm\'s back is replaced by a new task from the service\'s image within seconds, and the '
                  'recreated one is left running outside the swarm' % (
                      client.name, client.image, service,
                      ' (stack %s)' % swarm['stack'] if swarm.get('stack') else ''),
                  'move it through the swarm, on a manager node: docker service update --image %s %s%s' % (
                      image or '<a release the target engine accepts>', service,
                      '; and change the image in the stack file too, or the next docker stack deploy brings it back'
                      if swarm.get('stack') else ''),
                  SOURCE)


@finding('client_compose_file_unreachable', 'blocker', 'client:NAME', kb=['clients:*', 'engines:*'],
         summary='a client that must move is a Compose service whose image cannot be changed in its compose file '
                 'on the host')
def client_compose_file_unreachable(ctx, entry):
    for client, image in _moving(ctx, 'compose'):
        compose = client.manager
        if compose['problem'] is None:
            continue    # api_client_move changes the image in compose['image_file'] and brings the service up
        where = compose['image_file'] or ', '.join(compose['config_files']) or 'its compose file'
        files = ' '.join('-f %s' % f for f in compose['config_files'])
        yield hit('client:%s' % client.name,
                  '%s (%s) is service %s of the Compose project %s, and its image cannot be changed in its compose '
                  'file on this host: %s. Moved without its file, Compose brings the old image back at the next '
                  'up --force-recreate, down/up or change to the service' % (
                      client.name, client.image, compose['service'], compose['project'], compose['problem']),
                  'change the image of service %s in %s to %s, then docker compose -p %s %sup -d %s (where that file '
                  'is)' % (compose['service'], where, image or 'a release the target engine accepts',
                           compose['project'], files + ' ' if files else '', compose['service']),
                  SOURCE)
