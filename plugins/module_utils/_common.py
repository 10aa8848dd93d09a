# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# What every facts module shares: the options documented once in
# plugins/doc_fragments/facts.py, the unix-socket-only rule, and running the gatherers into
# ansible_facts.container_engine (changed is always false; nothing on the host changes).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import Host

PARTS = ('docker', 'containerd', 'rootless', 'clients')

COMMON_ARGUMENT_SPEC = dict(
    docker_host=dict(type='str', default='unix://' + G.DEFAULT_DOCKER_SOCKET, aliases=['docker_url'],
                     fallback=(env_fallback, ['DOCKER_HOST'])),
    timeout=dict(type='int', default=10),
    fail_on_error=dict(type='bool', default=False),
)
CONTAINERD_ARGUMENT_SPEC = dict(
    containerd_socket=dict(type='path', default=G.DEFAULT_CONTAINERD_SOCKET),
)
DECLARED_ARGUMENT_SPEC = dict(
    declared=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        api_version=dict(type='str'),
        image=dict(type='str'),
    )),
)


def socket_path_of(docker_host):
    """unix:///var/run/docker.sock -> /var/run/docker.sock; None for anything but a unix socket."""
    value = (docker_host or '').strip()
    if value.startswith('unix://'):
        path = value[len('unix://'):]
        return path if path.startswith('/') else None
    if value.startswith('/'):
        return value
    return None


def run_facts_module(parts, extra_spec=None, part_option=None):
    """Build the module, gather the named parts, exit. part_option: name of a `gather` list option."""
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(extra_spec or {})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    if part_option:
        chosen = params[part_option] or ['all']
        parts = list(PARTS) if 'all' in chosen else [part for part in PARTS if part in chosen]

    socket_path = socket_path_of(params['docker_host'])
    if socket_path is None:
        module.fail_json(msg='docker_host must be a unix socket (unix:///var/run/docker.sock), not %r: '
                             'this module never opens a TCP connection, so run it on the Docker host itself.'
                             % params['docker_host'], can_talk_to_docker=False)
    if params['timeout'] <= 0:
        module.fail_json(msg='timeout must be a positive number of seconds, not %s.' % params['timeout'])

    host = Host(module, timeout=params['timeout'])
    ctx = G.Context(host)
    facts = {}
    try:
        if 'docker' in parts:
            facts['docker'] = G.gather_docker(ctx, socket_path)
        if 'containerd' in parts:
            components = facts['docker']['components'] if 'docker' in facts else None
            facts['containerd'] = G.gather_containerd(ctx, params['containerd_socket'], components)
        if 'rootless' in parts:
            facts['rootless'] = G.gather_rootless(ctx)
        if 'clients' in parts:
            facts['clients'] = G.gather_clients(ctx, socket_path, params.get('declared'))
    finally:
        host.close()

    for note in ctx.notes:
        module.warn(note)
    result = dict(changed=False, ansible_facts=dict(container_engine=facts))
    if 'docker' in facts:
        result['can_talk_to_docker'] = facts['docker']['can_talk_to_docker']
    errors = ['%s: %s' % (part, facts[part]['error']) for part in parts if facts[part].get('error')]
    if errors and params['fail_on_error']:
        module.fail_json(msg=' '.join(errors), **result)
    module.exit_json(**result)
