# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# What every facts module shares: the options documented once in
# plugins/doc_fragments/facts.py, the checks of the options (unix sockets only, one sentence per bad
# value, the value shown shortened), and running the gatherers into
# ansible_facts.container_engine (changed is always false; nothing on the host changes). The commands the
# gatherers will run are started together first, so that their wall times overlap.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _gather as G
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import Host
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._registry import url_problem

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
        program=dict(type='str'),
        version=dict(type='str'),
    )),
    host_processes=dict(type='bool', default=True),
    registries=dict(type='list', elements='dict', default=[], options=dict(
        url=dict(type='str', required=True),
        name=dict(type='str'),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
    )),
)


# A unix socket path fits in sockaddr_un.sun_path (108 bytes on Linux) with its closing NUL byte.
UNIX_PATH_MAX = 107


def socket_path_of(docker_host):
    """unix:///var/run/docker.sock -> /var/run/docker.sock; None for anything but a unix socket."""
    value = (docker_host or '').strip()
    if value.startswith('unix://'):
        path = value[len('unix://'):]
        return path if path.startswith('/') else None
    if value.startswith('/'):
        return value
    return None


def socket_path_problem(option, path):
    """One sentence when an absolute socket path cannot be a unix socket's, else None."""
    if '\0' in path:
        return '%s must not contain a NUL byte: %s.' % (option, P.shown(path))
    size = len(path.encode('utf-8', 'surrogateescape'))
    if size > UNIX_PATH_MAX:
        return ('%s is %s bytes long, but a unix socket path has at most %d bytes: %s. Give the path the daemon '
                'really listens on.' % (option, format(size, ','), UNIX_PATH_MAX, P.shown(path)))
    return None


def docker_host_problem(docker_host):
    """(socket path, None) for a usable docker_host, else (None, one sentence naming the value and the fix)."""
    path = socket_path_of(docker_host)
    if path is None:
        return None, ('docker_host must be a unix socket with an absolute path (unix:///var/run/docker.sock), not '
                      '%s: this module never opens a TCP connection, so run it on the Docker host itself.'
                      % P.shown(docker_host))
    return path, socket_path_problem('docker_host', path)


def containerd_socket_problem(value):
    """(socket path, None) for a usable containerd_socket, else (None, one sentence)."""
    text = (value or '').strip()
    if text.startswith('unix://'):
        text = text[len('unix://'):]
    if '://' in text:
        return None, ('containerd_socket must be the path of containerd\'s unix socket '
                      '(/run/containerd/containerd.sock), not %s: this module never opens a network connection, so '
                      'run it on the containerd host itself.' % P.shown(value))
    if not text.startswith('/'):
        return None, ('containerd_socket must be an absolute path (/run/containerd/containerd.sock), not %s.'
                      % P.shown(value))
    return text, socket_path_problem('containerd_socket', text)


def declared_problem(declared):
    """One sentence for the first declared client whose api_version is not an API version, whose version is not a
    release, or that names a program without its version; else None."""
    for index, item in enumerate(declared or []):
        api = item.get('api_version')
        if api is not None and P.api_tuple(api) is None:
            return ('declared[%d].api_version of client %s must be an Engine API version like "1.41", not %s.'
                    % (index, P.shown(item.get('name')), P.shown(api)))
        version = item.get('version')
        if version is not None and not P.RELEASE_RE.match(version):
            return ('declared[%d].version of client %s must be the release it runs, like "6.1.3", not %s.'
                    % (index, P.shown(item.get('name')), P.shown(version)))
        if item.get('program') is not None and version is None:
            return ('declared[%d] (client %s) names program %s: give the version it runs too (version: "6.1.3").'
                    % (index, P.shown(item.get('name')), P.shown(item.get('program'))))
    return None


class FactsModule(AnsibleModule):
    """AnsibleModule whose failure messages never echo a long value in full (Ansible's own option checks
    included: they repeat a bad value as given)."""

    def fail_json(self, msg, **kwargs):
        super().fail_json(msg=P.shorten_message(msg), **kwargs)


def run_facts_module(parts, extra_spec=None, part_option=None):
    """Build the module, gather the named parts, exit. part_option: name of a `gather` list option."""
    spec = dict(COMMON_ARGUMENT_SPEC)
    spec.update(extra_spec or {})
    module = FactsModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    if part_option:
        chosen = params[part_option] or ['all']
        parts = list(PARTS) if 'all' in chosen else [part for part in PARTS if part in chosen]

    socket_path, problem = docker_host_problem(params['docker_host'])
    if problem:
        module.fail_json(msg=problem, can_talk_to_docker=False)
    containerd_socket = None
    if 'containerd_socket' in params:
        containerd_socket, problem = containerd_socket_problem(params['containerd_socket'])
        if problem:
            module.fail_json(msg=problem)
    problem = declared_problem(params.get('declared'))
    for index, item in enumerate(params.get('registries') or []):
        # a password written into the URL is masked wherever the module's output would show it (its invocation too)
        password = urlsplit(item['url']).password if '@' in item['url'] else None
        if password:
            module.no_log_values.add(password)
        problem = problem or url_problem(item['url'], 'registries[%d].url' % index)
    if problem:
        module.fail_json(msg=problem)
    if params['timeout'] <= 0:
        module.fail_json(msg='timeout must be a positive number of seconds, not %s.' % params['timeout'])

    host = Host(module, timeout=params['timeout'], registries=params.get('registries'))
    ctx = G.Context(host)
    facts = {}
    try:
        ctx.start_commands(G.planned_commands(ctx, parts, socket_path, containerd_socket))
        if 'docker' in parts:
            facts['docker'] = G.gather_docker(ctx, socket_path)
        if 'containerd' in parts:
            components = facts['docker']['components'] if 'docker' in facts else None
            facts['containerd'] = G.gather_containerd(ctx, containerd_socket, components)
        if 'rootless' in parts:
            facts['rootless'] = G.gather_rootless(ctx)
        if 'clients' in parts:
            facts['clients'] = G.gather_clients(
                ctx, socket_path, params.get('declared'), host_processes=params.get('host_processes', True),
                registries=params.get('registries'))
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
