# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# The clients part of the facts: what talks to the Docker socket (containers with it mounted, host processes,
# declared clients), their release learned from labels or a registry, and who manages them (Compose, swarm).
# Part of the facts gathering that module_utils/_gather.py names.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._host import EngineError
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _hostclients as HC
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _managers as M
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_context import (
    DEFAULT_DOCKER_SOCKET,
    api_get,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_daemons import (
    engine_error_sentence,
    rootless_dockerds,
    socket_activation_guard,
)
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._gather_units import (
    unit_environment,
    unit_texts,
)


def is_docker_socket(path, sockets):
    if not path:
        return False
    return os.path.basename(path.rstrip('/')) == 'docker.sock' or path in sockets


def host_clients(ctx, socket_path):
    """HC.empty() filled: the processes connected to the engine's socket(s) (the rootful one asked and
    /var/run/docker.sock, and every rootless daemon's, read in its own network namespace) and the units that
    point a program at one."""
    facts = HC.empty()
    sockets = [socket_path, DEFAULT_DOCKER_SOCKET]
    netns_pids = []
    for proc in rootless_dockerds(ctx):
        argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % proc['pid'], binary=True))
        host_opt = P.cmdline_option(argv, '--host', '-H')
        if host_opt and host_opt.startswith('unix://'):
            sockets.append(host_opt[len('unix://'):])
        else:
            uid = proc['rootlesskit_uid'] if proc['rootlesskit_uid'] is not None else proc['uid']
            sockets.append('/run/user/%s/docker.sock' % uid)
        netns_pids.append(proc['pid'])
    facts['host_processes'], facts['host_processes_error'] = HC.host_processes(ctx, sockets, netns_pids)
    connected = {entry['systemd_unit'] for entry in facts['host_processes']}
    facts['declared_by_unit'] = HC.declared_by_unit(
        ctx, unit_texts, unit_environment, lambda path: is_docker_socket(path, sockets), connected)
    return facts


# Labels that name the release an image was built as, in the order they are read: the OCI image spec's annotation,
# then the older label-schema.org convention. Not read: `version` (Red Hat's base images set it to their own release,
# which every image built on them inherits) and `io.buildah.version` (the build tool's release).
VERSION_LABELS = ('org.opencontainers.image.version', 'org.label-schema.version')


def learned_version(tag, labels):
    """{'version', 'source'} for a container whose image tag names no release (latest, none, a digest, a partial
    release such as 3 or 3.6) when one of VERSION_LABELS does, else None. The labels are the container's
    configuration, which holds its image's labels (the engine copies them in when it creates the container). A label
    value that is not a release of three parts, or that the tag cannot stand for (tag 3, label 2.11.5), is not used."""
    if P.names_release(tag):
        return None
    for label in VERSION_LABELS:
        value = (labels.get(label) or '').strip()
        parts = P.release_parts(value)
        if parts is not None and len(parts) >= 3 and P.tag_admits(tag, value):
            return {'version': value, 'source': 'label:' + label}
    return None


# At most this many tags of a repository are asked for their digest, newest release first.
MAX_TAGS_ASKED = 100
DOCKER_HUB_HOSTS = ('registry-1.docker.io', 'index.docker.io', 'registry.hub.docker.com', 'docker.io')


def registry_name(item):
    """How image names spell a registry the task names: its `name`, else the host and port of its URL (docker.io
    for Docker Hub's)."""
    if item.get('name'):
        return item['name'].lower()
    host = urlsplit(item['url']).netloc.lower()
    return 'docker.io' if host in DOCKER_HUB_HOSTS else host


def digest_reference(ref):
    """'127.0.0.1:5000/acme/agent@sha256:ab..' -> ('127.0.0.1:5000', 'acme/agent', 'sha256:ab..');
    'traefik@sha256:..' -> ('docker.io', 'library/traefik', 'sha256:..')."""
    name, _sep, digest = ref.partition('@')
    first, slash, rest = name.partition('/')
    if slash and ('.' in first or ':' in first or first == 'localhost'):
        registry, repository = first.lower(), rest
    else:
        registry, repository = 'docker.io', name
    if registry == 'docker.io' and '/' not in repository:
        repository = 'library/' + repository
    return registry, repository, digest


def registry_version(ctx, socket_path, image_id, tag, registries):
    """{'version', 'source'} from a registry the task names: the newest release tag (one the container's floating tag
    can stand for) whose manifest digest is one of the image's RepoDigests; else None. A registry that cannot be
    asked becomes a warning, never a failure."""
    by_name = {registry_name(item): item['url'] for item in registries or []}
    if not by_name or not image_id:
        return None
    try:
        digests = api_get(ctx, socket_path, '/images/%s/json' % image_id).get('RepoDigests') or []
    except EngineError as err:
        ctx.note('Could not read the image %s of a client container: %s' % (image_id[:19], err.detail))
        return None
    for ref in digests:
        registry, repository, digest = digest_reference(ref)
        url = by_name.get(registry)
        if url is None or not digest:
            continue
        try:
            tags = [t for t in ctx.host.registry_tags(url, repository) if P.names_release(t) and P.tag_admits(tag, t)]
            for candidate in sorted(tags, key=P.release_parts, reverse=True)[:MAX_TAGS_ASKED]:
                if ctx.host.registry_digest(url, repository, candidate) == digest:
                    return {'version': candidate, 'source': 'registry:%s/%s:%s' % (registry, repository, candidate)}
        except EngineError as err:
            ctx.note('Could not ask the registry %s which release %s is: %s' % (url, ref, err.detail))
    return None


def client_manager(ctx, labels):
    """{'managed_by', 'manager'} of a socket mount: the manager its labels name (M.manager_of) and, for Compose,
    where the service's image is written in the files the labels name and whether the move can change it there."""
    managed_by, manager = M.manager_of(labels)
    if managed_by == 'compose':
        def read(path):
            text = ctx.host.read(path)
            return text.decode('utf-8', 'replace') if isinstance(text, bytes) else text
        image_file, image, problem = M.locate_compose_image(manager, read)
        manager.update(image_file=image_file, image_in_file=image, problem=problem)
    return {'managed_by': managed_by, 'manager': manager}


def gather_clients(ctx, socket_path=DEFAULT_DOCKER_SOCKET, declared=None, host_processes=True, registries=None):
    installed = bool(ctx.host.which('dockerd'))
    facts = {'socket_mounts': [], 'declared': [], 'error': None}
    if host_processes:
        facts.update(host_clients(ctx, socket_path))
    else:
        facts.update(host_processes=None, declared_by_unit=None, host_processes_error=None)
    for item in declared or []:
        image = item.get('image')
        name, tag = P.split_image(image)
        entry = {'name': item.get('name'), 'api_version': item.get('api_version'),
                 'image': image, 'image_name': name, 'image_tag': tag}
        if item.get('version') is not None:   # a program or library: the knowledge base names it
            entry.update(program=item.get('program') or item.get('name'), version=item.get('version'))
        facts['declared'].append(entry)
    try:
        socket_activation_guard(ctx, socket_path)
        containers = api_get(ctx, socket_path, '/containers/json', params={'all': 1})
        for summary in containers:
            mounts = [mount for mount in summary.get('Mounts') or []
                      if is_docker_socket(mount.get('Source'), (socket_path, DEFAULT_DOCKER_SOCKET))]
            if not mounts:
                continue
            detail = api_get(ctx, socket_path, '/containers/%s/json' % summary['Id'])
            config = detail.get('Config') or {}
            env = {}
            for item in config.get('Env') or []:
                if '=' in item:
                    key, value = item.split('=', 1)
                    env[key] = value
            image = config.get('Image') or summary.get('Image')
            image_name, image_tag = P.split_image(image)
            names = summary.get('Names') or [detail.get('Name') or '']
            facts['socket_mounts'].append({
                'name': names[0].lstrip('/'), 'id': summary['Id'][:12], 'image': image,
                'image_name': image_name, 'image_tag': image_tag,
                'state': summary.get('State') or (detail.get('State') or {}).get('Status'),
                'socket_path': mounts[0].get('Source'), 'mount_destination': mounts[0].get('Destination'),
                'api_version_env': env.get('DOCKER_API_VERSION'), 'docker_host_env': env.get('DOCKER_HOST'),
                'labels': summary.get('Labels') or {},
                'version_learned': learned_version(image_tag, config.get('Labels') or {}),
            })
            if facts['socket_mounts'][-1]['version_learned'] is None and not P.names_release(image_tag):
                facts['socket_mounts'][-1]['version_learned'] = registry_version(
                    ctx, socket_path, detail.get('Image'), image_tag, registries)
            facts['socket_mounts'][-1].update(client_manager(ctx, summary.get('Labels') or {}))
    except EngineError as err:
        facts['error'] = engine_error_sentence(ctx, err, socket_path, installed)
    facts['socket_mounts'].sort(key=lambda item: item['name'])
    return facts
