"""Facts dicts built from values recorded on the project's real lab engines (docs/facts.md shape).

Every number here was read from a real daemon or package on the project's lab
(tests/lab/manifest.json; docs/incidents.md#lab-api-ranges and the other lab-* sections); tests
derive their predictions from the knowledge base and compare them with these recordings, never with
values copied from the knowledge base.
"""

from __future__ import annotations

import copy

# What each lab engine answered on its unversioned /version, and its Debian package.
ENGINES = {
    '20.10.24': {'version': '20.10.24+dfsg1', 'api_version': '1.41', 'min_api_version': '1.12',
                 'package': '20.10.24+dfsg1-1+deb12u1+b6'},
    '26.1.5': {'version': '26.1.5+dfsg1', 'api_version': '1.45', 'min_api_version': '1.24',
               'package': '26.1.5+dfsg1-9+deb13u1'},
    '28.5.2': {'version': '28.5.2+dfsg4', 'api_version': '1.51', 'min_api_version': '1.24',
               'package': '28.5.2+dfsg4-5'},
}

# containerd: what `containerd --version` / the Version service print, and the package.
CONTAINERD = {
    '1.6.20': {'raw': '1.6.20~ds1', 'package': '1.6.20~ds1-1+deb12u3'},
    '1.7.24': {'raw': '1.7.24~ds1', 'package': '1.7.24~ds1-6+deb13u1'},
    '2.1.9': {'raw': '2.1.9+unknown', 'package': '2.1.9+ds1-5'},
}

# API versions real daemons answered (docs/incidents.md#lab-api-ranges, #client-api-too-new, #agent-api-too-old).
API_ANSWERS = {
    '20.10.24': {'accepted': ['1.12', '1.17', '1.23', '1.24', '1.30', '1.40', '1.41'], 'rejected': ['1.43']},
    '26.1.5': {'accepted': ['1.24', '1.41', '1.45'], 'rejected': ['1.17', '1.23']},
    '28.5.2': {'accepted': ['1.24', '1.41', '1.51'], 'rejected': ['1.17', '1.23']},
}
# DOCKER_MIN_API_VERSION values dockerd --validate accepted / refused on the lab.
OVERRIDE_ANSWERS = {
    '26.1.5': {'starts': ['1.24', '1.30'], 'refuses': ['1.12', '1.17', '1.23']},
    '28.5.2': {'starts': ['1.24', '1.30'], 'refuses': ['1.12', '1.17', '1.23']},
}
# The exact error dockerd 26.1.5 / 28.5.2 printed for DOCKER_MIN_API_VERSION=1.12.
OVERRIDE_ERROR_1_12 = 'invalid DOCKER_MIN_API_VERSION: minimum supported API version is 1.24: 1.12'
SHIM_ERROR = 'unsupported shim version (3): not implemented'


def docker(engine='20.10.24', installed=None, **changes):
    """docker section for a lab engine; ``installed`` is the engine whose package is installed."""
    running = ENGINES[engine]
    package = ENGINES[installed or engine]
    section = {
        'can_talk_to_docker': True,
        'error': None,
        'socket': '/var/run/docker.sock',
        'version': running['version'],
        'api_version': running['api_version'],
        'min_api_version': running['min_api_version'],
        'components': {},
        'storage_driver': 'overlay2',
        'cgroup_driver': 'systemd',
        'cgroup_version': '2',
        'live_restore': False,
        'security_options': ['name=seccomp,profile=default', 'name=cgroupns'],
        'containers': {'total': 3, 'running': 2, 'paused': 0, 'stopped': 1},
        'daemon_json_path': '/etc/docker/daemon.json',
        'daemon_json': {},
        'min_api_overrides': [],
        'packages': {'docker.io': package['package']},
        'package_family': 'debian',
        'installed_version': (installed or engine),
        'stale': installed is not None and installed != engine,
    }
    section.update(changes)
    return section


def containerd(running='1.6.20', installed=None, **changes):
    inst = installed or running
    restart = inst != running
    section = {
        'installed': True,
        'installed_version': inst,
        'installed_version_raw': CONTAINERD[inst]['raw'],
        'running': True,
        'running_version': running,
        'running_version_raw': CONTAINERD[running]['raw'],
        'pid': 1234,
        'exe_deleted': restart,
        'restart_required': restart,
        'restart_reasons': [f'running {running} != installed {inst}'] if restart else [],
        'socket': '/run/containerd/containerd.sock',
        'config_path': '/etc/containerd/config.toml',
        'config_version': None,
        'shims': [{'name': 'containerd-shim-runc-v2', 'path': '/usr/bin/containerd-shim-runc-v2', 'version': inst}],
        'error': None,
    }
    section.update(changes)
    return section


def rootless_daemon(user='alice', engine='28.5.2', port_driver='builtin', net_driver='slirp4netns',
                    rootlesskit='2.0.2', script='/usr/share/docker.io/contrib/dockerd-rootless.sh',
                    script_family='debian'):
    info = ENGINES.get(engine, {'version': engine, 'api_version': None, 'min_api_version': None})
    return {
        'user': user, 'uid': 1000, 'pid': 4321, 'socket': '/run/user/1000/docker.sock',
        'engine_version': info['version'], 'api_version': info['api_version'],
        'min_api_version': info['min_api_version'], 'rootlesskit_version': rootlesskit,
        'net_driver': net_driver, 'port_driver': port_driver, 'slirp4netns_version': '1.2.0',
        'systemd_unit': 'docker.service', 'linger': True, 'script': script, 'script_family': script_family,
    }


def socket_mount(name, image, api_version_env=None):
    image_name, unused, tag = image.rpartition(':')
    return {'name': name, 'id': '0123456789ab', 'image': image, 'image_name': image_name, 'image_tag': tag,
            'state': 'running', 'socket_path': '/var/run/docker.sock', 'api_version_env': api_version_env,
            'labels': {}}


def compose_mount(name, image, service='agent', problem=None, files=('/srv/monitoring/compose.yaml',)):
    """A socket mount that a Compose project manages, as clients_facts reports it (labels of Compose 2.26.1)."""
    mount = socket_mount(name, image)
    files = list(files)
    mount['labels'] = {'com.docker.compose.project': 'monitoring', 'com.docker.compose.service': service,
                       'com.docker.compose.project.working_dir': '/srv/monitoring',
                       'com.docker.compose.project.config_files': ','.join(files),
                       'com.docker.compose.version': '2.26.1'}
    mount['managed_by'] = 'compose'
    mount['manager'] = {'project': 'monitoring', 'service': service, 'working_dir': '/srv/monitoring',
                        'config_files': files, 'compose_version': '2.26.1',
                        'image_file': files[-1] if files else None, 'image_in_file': None if problem else image,
                        'problem': problem}
    return mount


def swarm_mount(name, image, service='watcher', stack=None):
    """A socket mount that is a swarm service's task (labels the swarm put on a task on Engine 26.1.5)."""
    mount = socket_mount(name, image)
    mount['labels'] = {'com.docker.swarm.service.name': service, 'com.docker.swarm.service.id': 'fd57bxco7u5l',
                       'com.docker.swarm.task.name': name}
    mount['managed_by'] = 'swarm'
    mount['manager'] = {'service_name': service, 'service_id': 'fd57bxco7u5l', 'task_name': name, 'stack': stack}
    return mount


def host(docker_section=None, containerd_section=None, rootless_daemons=None, mounts=None, declared=None):
    facts = {}
    if docker_section is not None:
        facts['docker'] = docker_section
    if containerd_section is not None:
        facts['containerd'] = containerd_section
    if rootless_daemons is not None:
        facts['rootless'] = {'daemons': rootless_daemons, 'error': None}
    if mounts is not None or declared is not None:
        facts['clients'] = {'socket_mounts': mounts or [], 'declared': declared or [], 'error': None}
    return {'container_engine': copy.deepcopy(facts)}
