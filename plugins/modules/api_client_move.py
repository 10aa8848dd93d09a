#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: api_client_move
short_description: Move a Docker API client container to another image, keeping its configuration
version_added: 0.1.0
description:
  - Recreates one container (typically an agent that talks to the Docker socket) from another image or with other
    environment entries, keeping everything else it was created with - environment, mounts and volumes (anonymous
    ones included), restart policy, labels, networks and aliases, published ports, command and entrypoint, user,
    healthcheck and every other C(HostConfig) setting. Settings that came from the old image (its environment,
    labels, command, healthcheck, exposed ports, ...) are left to the new image.
  - The new container is created before the old one stops; the old one is renamed and kept until the new one is
    healthy (or running, for an image without a healthcheck). If the new one does not get there, it is removed and
    the old one is given its name back and started again (rollback); the task then fails with the reason the new
    one gave (its last healthcheck output or its log).
  - A container that was not running is recreated and left stopped. A container started with C(--rm) is refused
    (stopping it would delete it, leaving nothing to roll back to).
  - A container that Docker Compose manages (it carries Compose's C(com.docker.compose.*) labels) is moved through
    its project instead, because Compose would bring the old image back the next time it recreates the service
    (C(up --force-recreate), C(down)/C(up), a change to the service) - the module changes the C(image:) line of the
    service in the compose file its labels name (the last of them that sets it), asks C(docker compose config)
    whether the edited files mean the same project with only that image changed, writes the file (same mode and
    owner) and runs C(docker compose up -d --no-deps SERVICE) with the project name, directory and files of the labels.
    If the new container does not become healthy, the file is put back and the service brought up again. When that
    cannot be done safely - a file missing or unreadable on the host, the service or its C(image:) line not found,
    the image set through a variable, no Compose v2 on the host, an O(env) change - the module changes nothing and
    fails naming the file and the service to change.
  - A task of a swarm service (C(com.docker.swarm.*) labels) is refused, naming C(docker service update --image),
    because the swarm replaces a task recreated behind its back.
  - Talks to the engine on its unix socket only, with the Python library C(docker); Compose is pointed at the same
    socket (E(DOCKER_HOST)).
author:
  - fleetsafe developers (@fleetsafe)
options:
  name:
    description:
      - Name of the container to move (for a Compose service, one of its containers, e.g. V(monitoring-agent-1)).
    type: str
    required: true
  image:
    description:
      - The image to recreate it from, for example V(fleetsafe-lab/agent:2.0.0). It must already be on the host
        (pulled or loaded); the module never pulls.
    type: str
    required: true
  env:
    description:
      - Environment entries to set on the new container (added, or replacing the container's own), for example
        C(DOCKER_API_VERSION=1.24) to pin a client's API version.
      - Refused for a container that Compose manages (set it in the service's C(environment) instead).
    type: dict
    default: {}
  docker_host:
    description: The engine's unix socket (C(unix://) URL or path). TCP is refused.
    type: str
    default: unix:///var/run/docker.sock
  wait_timeout:
    description: Seconds to wait for the new container to become healthy (or running).
    type: int
    default: 120
  stop_timeout:
    description: Seconds the old container gets to stop before it is killed; default its own stop timeout, or 10.
    type: int
  timeout:
    description: Seconds to wait for one Engine API answer.
    type: int
    default: 60
requirements:
  - The Python library C(docker) on the host (Debian's python3-docker).
  - For a container that Compose manages, Compose v2 on the host (C(docker compose) or C(docker-compose) 2.x).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports the move it would make (and fails the same way on a missing image); changes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: partial
    details: The change to the compose file of a container that Compose manages; nothing for other containers.
notes:
  - The old container's anonymous volumes are attached to the new one under the same paths, and no volume is
    ever removed.
  - What Compose v2 does with a container recreated behind its back, seen on Compose 2.26.1, is told in the
    collection's C(docs/managed_clients.md).
"""

EXAMPLES = r"""
- name: Move the agent to a release the next engine accepts
  fleetsafe.container_engine.api_client_move:
    name: agent
    image: fleetsafe-lab/agent:2.0.0
  become: true

- name: Move a monitoring agent that Compose runs (its compose file gets the new image, then docker compose up -d)
  fleetsafe.container_engine.api_client_move:
    name: monitoring-agent-1
    image: fleetsafe-lab/agent:2.0.0
  become: true
  diff: true

- name: Pin a client's API version instead
  fleetsafe.container_engine.api_client_move:
    name: dashboard
    image: example/dashboard:3.1.0
    env:
      DOCKER_API_VERSION: "1.24"
"""

RETURN = r"""
name:
  description: The container's name.
  returned: always
  type: str
  sample: agent
from:
  description: The image the container was created from.
  returned: always
  type: str
  sample: fleetsafe-lab/agent:1.0.0
to:
  description: The image of the container now (the old one again after a rollback).
  returned: always
  type: str
  sample: fleetsafe-lab/agent:2.0.0
container_id:
  description: Short ID of the container carrying the name now.
  returned: always
  type: str
  sample: 0123456789ab
seconds_down:
  description:
    - Seconds from the moment the old container was asked to stop until the new one was healthy (or running);
      V(0) when nothing changed or in check mode.
  returned: always
  type: float
  sample: 4.2
health:
  description: The new container's last healthcheck output (or state), V(null) when there is none.
  returned: always
  type: str
  sample: "engine 20.10.24+dfsg1 answers API 1.24"
move_needed:
  description: Whether the container differs from the request (its image or environment), in check mode too.
  returned: always
  type: bool
  sample: true
rolled_back:
  description: Whether the new container failed and the old one was put back.
  returned: always
  type: bool
  sample: false
was_running:
  description: Whether the old container was running (a stopped container is recreated stopped).
  returned: always
  type: bool
  sample: true
managed_by:
  description:
    - V(compose) when Compose manages the container (it was moved through its project), else V(null). (A swarm task
      is refused.)
  returned: success
  type: str
  sample: compose
compose_file:
  description: The compose file whose C(image:) line the move changed (or would change), V(null) without Compose.
  returned: success
  type: str
  sample: /srv/monitoring/compose.yaml
"""

import copy
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _host as H
from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _managers as M
from ansible_collections.fleetsafe.container_engine.plugins.module_utils._common import socket_path_of

try:  # this module's Engine API client (the facts modules use the standard library's, module_utils/_engine_api.py)
    from docker import APIClient as _APIClient
except Exception:  # pylint: disable=broad-except  # ImportError, or a broken install
    _APIClient = None

PREVIOUS_SUFFIX = '-fleetsafe-previous'
# Container settings that come from the image unless the container's creator set them.
IMAGE_DEFAULTED = ('Cmd', 'Entrypoint', 'Healthcheck', 'User', 'WorkingDir', 'StopSignal', 'Shell', 'OnBuild',
                   'StopTimeout', 'ArgsEscaped')


class MoveError(Exception):
    pass


class Engine:
    """The few Engine API calls a move needs, unversioned (served at the daemon's own API version)."""

    def __init__(self, socket_path, timeout):
        if _APIClient is None:
            raise MoveError(H.sdk_missing_message())
        self.socket_path = socket_path
        self.client = _APIClient(base_url='unix://' + socket_path,
                                 version=H._SDK_PINNED_VERSION, timeout=timeout)  # pylint: disable=protected-access

    def call(self, method, path, params=None, body=None, ok=(200, 201, 204, 304)):
        url = self.client._url(path, versioned_api=False)  # pylint: disable=protected-access
        try:
            if method == 'GET':
                response = self.client._get(url, params=params)  # pylint: disable=protected-access
            elif method == 'DELETE':
                response = self.client._delete(url, params=params)  # pylint: disable=protected-access
            elif body is not None:
                response = self.client._post_json(url, data=body, params=params)  # pylint: disable=protected-access
            else:
                response = self.client._post(url, params=params)  # pylint: disable=protected-access
        except Exception as exc:  # pylint: disable=broad-except  # requests/urllib3/socket errors
            detail = H.classify_connection_error(exc, self.socket_path).detail
            raise MoveError('%s %s: %s' % (method, path, detail)) from None
        if response.status_code not in ok:
            try:
                message = response.json().get('message')
            except Exception:  # pylint: disable=broad-except
                message = response.text
            raise MoveError('%s %s: HTTP %s: %s' % (method, path, response.status_code, message))
        return response.json() if response.content and response.headers.get(
            'Content-Type', '').startswith('application/json') else None

    def find(self, kind, ref):
        try:
            return self.call('GET', '/%s/%s/json' % (kind, ref))
        except MoveError as exc:
            if 'HTTP 404' in str(exc):
                return None
            raise

    def close(self):
        try:
            self.client.close()
        except Exception:  # noqa: S110  # pylint: disable=broad-except  # closing is best effort
            pass


def _same(a, b):
    return (a or None) == (b or None)


def create_body(old, old_image, new_image_ref, env_overrides):
    """The create request for the new container: the old one's config minus what its image gave it."""
    config = copy.deepcopy(old.get('Config') or {})
    image_config = (old_image or {}).get('Config') or {}
    config['Image'] = new_image_ref
    if config.get('Hostname') == old['Id'][:12]:
        config.pop('Hostname')
    image_env = set(image_config.get('Env') or [])
    env = [item for item in config.get('Env') or [] if item not in image_env]
    for key, value in sorted(env_overrides.items()):
        env = [item for item in env if item.split('=', 1)[0] != key] + ['%s=%s' % (key, value)]
    config['Env'] = env
    image_labels = image_config.get('Labels') or {}
    config['Labels'] = {k: v for k, v in (config.get('Labels') or {}).items() if image_labels.get(k) != v}
    own_entrypoint = not _same(config.get('Entrypoint'), image_config.get('Entrypoint'))
    for key in IMAGE_DEFAULTED:
        if key == 'Cmd' and own_entrypoint:
            continue  # an entrypoint set at creation does not take the image's command: keep it as it was
        if key in config and _same(config[key], image_config.get(key)):
            config.pop(key)
    for key in ('ExposedPorts', 'Volumes'):
        mine = {k: v for k, v in (config.get(key) or {}).items() if k not in (image_config.get(key) or {})}
        config[key] = mine or None

    host_config = copy.deepcopy(old.get('HostConfig') or {})
    # inspect shows links as /target:/name/alias; create takes target:alias
    host_config['Links'] = ['%s:%s' % (link.split(':')[0].lstrip('/'), link.split(':')[1].rsplit('/', 1)[-1])
                            for link in host_config.get('Links') or []] or None
    # anonymous volumes (the image's VOLUME, or -v /path) would be new and empty: attach the same ones
    taken = {bind.split(':')[1] for bind in host_config.get('Binds') or [] if ':' in bind}
    taken |= {m.get('Target') for m in host_config.get('Mounts') or []}
    binds = list(host_config.get('Binds') or [])
    for mount in old.get('Mounts') or []:
        if mount.get('Type') == 'volume' and mount.get('Destination') not in taken:
            binds.append('%s:%s%s' % (mount['Name'], mount['Destination'], '' if mount.get('RW', True) else ':ro'))
    host_config['Binds'] = binds or None
    config['HostConfig'] = host_config

    networks = ((old.get('NetworkSettings') or {}).get('Networks') or {})
    mode = host_config.get('NetworkMode') or 'default'
    endpoints = {}
    for net, endpoint in networks.items():
        endpoints[net] = {
            'IPAMConfig': endpoint.get('IPAMConfig'),
            'Links': endpoint.get('Links'),
            'Aliases': [a for a in endpoint.get('Aliases') or [] if a not in (old['Id'][:12], old['Id'])] or None,
            'DriverOpts': endpoint.get('DriverOpts'),
        }
    primary = {net: ep for net, ep in endpoints.items() if net == mode}
    if primary:
        config['NetworkingConfig'] = {'EndpointsConfig': primary}
    extra = {net: ep for net, ep in endpoints.items() if net != mode and not (
        mode in ('default', 'bridge') and net == 'bridge')}
    return config, extra


def health_text(state):
    health = state.get('Health')
    if not health:
        return None
    log = health.get('Log') or []
    return (log[-1].get('Output') or '').strip() if log else health.get('Status')


def wait_ready(engine, cid, has_health, timeout):
    """Wait until healthy (or running, without a healthcheck). Returns (ok, why)."""
    deadline = time.monotonic() + timeout
    why = 'not started'
    while True:
        info = engine.find('containers', cid)
        state = (info or {}).get('State') or {}
        if not state.get('Running'):
            logs = ''
            try:
                url = engine.client._url('/containers/%s/logs' % cid, versioned_api=False)  # pylint: disable=protected-access
                logs = engine.client._get(url, params={'stdout': 1, 'stderr': 1, 'tail': 5}).content  # pylint: disable=protected-access
                logs = logs.decode('utf-8', 'replace')
            except Exception:  # noqa: S110  # pylint: disable=broad-except  # the log only adds detail
                pass
            return False, 'it stopped (%s, exit code %s)%s' % (
                state.get('Status'), state.get('ExitCode'), (': ' + ''.join(
                    c for c in logs if c.isprintable() or c == '\n').strip()) if logs else '')
        if not has_health:
            return True, None
        status = (state.get('Health') or {}).get('Status')
        why = 'its healthcheck says %s: %s' % (status, health_text(state))
        if status == 'healthy':
            return True, None
        if status == 'unhealthy':
            return False, why
        if time.monotonic() > deadline:
            return False, 'not healthy after %s s (%s)' % (timeout, why)
        time.sleep(0.5)


def move(module, engine):
    p = module.params
    name = p['name']
    result = dict(changed=False, move_needed=False, name=name, seconds_down=0.0, health=None, rolled_back=False)
    old = engine.find('containers', name)
    if old is None:
        raise MoveError('no container named %r on this host: nothing to move (check the name with `docker ps -a`)'
                        % name)
    if old['Name'].lstrip('/') != name:
        raise MoveError('%r names container %s (%s), not a container called %r: give its name'
                        % (name, old['Id'][:12], old['Name'].lstrip('/'), name))
    result.update({'from': old['Config'].get('Image'), 'to': old['Config'].get('Image'),
                   'container_id': old['Id'][:12], 'was_running': bool(old['State'].get('Running'))})
    new_image = engine.find('images', p['image'])
    if new_image is None:
        raise MoveError('image %r is not on this host: load or pull it before moving %s to it (nothing was changed)'
                        % (p['image'], name))
    managed_by, manager = M.manager_of(old['Config'].get('Labels'))
    result.update(managed_by=managed_by, compose_file=None)
    if managed_by == 'swarm':
        raise MoveError(swarm_message(name, manager, p['image']))
    if managed_by == 'compose':
        return move_compose(module, engine, old, new_image, manager, result)
    env_now = dict(item.split('=', 1) for item in old['Config'].get('Env') or [] if '=' in item)
    env_ok = all(env_now.get(k) == str(v) for k, v in p['env'].items())
    if old['Config'].get('Image') == p['image'] and old['Image'] == new_image['Id'] and env_ok:
        result['health'] = health_text(old['State'])
        return result
    if (old.get('HostConfig') or {}).get('AutoRemove'):
        raise MoveError('%s was started with --rm (AutoRemove): stopping it deletes it, so it could not be put back if '
                        'its new release failed; recreate it without --rm first (nothing was changed)' % name)
    previous = name + PREVIOUS_SUFFIX
    if engine.find('containers', previous) is not None:
        raise MoveError('a container named %s is left from an interrupted move: check it, then remove it or rename '
                        'it back to %s (nothing was changed)' % (previous, name))
    old_image = engine.find('images', old['Image'])
    body, extra_networks = create_body(old, old_image, p['image'], {k: str(v) for k, v in p['env'].items()})
    result.update(changed=True, move_needed=True, to=p['image'])
    if module.check_mode:
        return result

    was_running = result['was_running']
    stop_timeout = p['stop_timeout'] if p['stop_timeout'] is not None else old['Config'].get('StopTimeout') or 10
    engine.call('POST', '/containers/%s/rename' % old['Id'], params={'name': previous})
    new_id = None
    started = None
    try:
        created = engine.call('POST', '/containers/create', params={'name': name}, body=body)
        new_id = created['Id']
        for net, endpoint in extra_networks.items():
            engine.call('POST', '/networks/%s/connect' % net, body={'Container': new_id, 'EndpointConfig': endpoint})
        if was_running:
            started = time.monotonic()
            engine.call('POST', '/containers/%s/stop' % old['Id'], params={'t': stop_timeout})
            engine.call('POST', '/containers/%s/start' % new_id)
            check = body.get('Healthcheck') or (new_image.get('Config') or {}).get('Healthcheck') or {}
            has_health = bool(check.get('Test')) and check['Test'][0] != 'NONE'
            ready, why = wait_ready(engine, new_id, has_health, p['wait_timeout'])
            result['seconds_down'] = round(time.monotonic() - started, 2)
            result['health'] = health_text(((engine.find('containers', new_id) or {}).get('State')) or {})
            if not ready:
                raise MoveError('%s did not become healthy on %s: %s' % (name, p['image'], why))
    except MoveError as exc:
        rollback_error, old_health = rollback(engine, old, name, new_id, was_running, p['wait_timeout'])
        result.update(rolled_back=rollback_error is None, to=result['from'], container_id=old['Id'][:12])
        back = 'rolled back: %s runs %s again%s' % (name, result['from'], ' (%s)' % old_health if old_health else '')
        error = MoveError('%s; %s' % (exc, back if rollback_error is None else 'ROLLBACK FAILED: %s' % rollback_error))
        error.result = result
        raise error from None
    engine.call('DELETE', '/containers/%s' % old['Id'], params={'v': 0, 'force': 1})
    result['container_id'] = new_id[:12]
    return result


def swarm_message(name, swarm, image):
    service = swarm['service_name'] or swarm['service_id']
    return ('%s is a task of the swarm service %s: the swarm replaces a task recreated behind its back with a new one '
            'from the service\'s image, so move it through the swarm, on a manager node: docker service update '
            '--image %s %s%s (nothing was changed)' % (
                name, service, image, service,
                '; and change the image in the stack file of %s too' % swarm['stack'] if swarm.get('stack') else ''))


def read_text(path):
    """A file's text, None when it does not exist (OSError when it cannot be read)."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        raise OSError('%s is not UTF-8 text' % path) from None


class Compose:
    """`docker compose` (v2) on one project, as its labels name it, against the module's socket only."""

    def __init__(self, module, socket_path, manager, files=None):
        self.module = module
        self.manager = manager
        self.env = {'DOCKER_HOST': 'unix://' + socket_path}
        self.command = self.find(module, self.env)
        self.files = files or manager['config_files']

    @staticmethod
    def find(module, env):
        """The Compose v2 command on this host, or None."""
        for cmd in ([module.get_bin_path('docker'), 'compose'], [module.get_bin_path('docker-compose')]):
            if not cmd[0]:
                continue
            rc, out, _err = module.run_command(cmd + ['version', '--short'], environ_update=env)
            if rc == 0 and out.strip().lstrip('v').split('.')[0].isdigit() and \
                    int(out.strip().lstrip('v').split('.')[0]) >= 2:
                return cmd
        return None

    def run(self, *args, files=None):
        base = list(self.command) + ['--project-name', self.manager['project']]
        if self.manager['working_dir']:
            base += ['--project-directory', self.manager['working_dir']]
        for path in files or self.files:
            base += ['--file', path]
        return self.module.run_command(base + list(args), environ_update=self.env)

    def config(self, files=None):
        rc, out, err = self.run('config', '--format', 'json', files=files)
        if rc != 0:
            raise MoveError('docker compose config of project %s failed: %s' % (
                self.manager['project'], (err or out).strip()[-500:]))
        return json.loads(out)


def compose_blocker(name, compose, image_file, image, problem):
    files = ' '.join('-f %s' % f for f in compose['config_files'])
    return ('%s is service %s of the Compose project %s, which would bring its old image back at its next up '
            '--force-recreate, down/up or change to the service; it cannot be moved through its project here: %s. '
            'Change the image of service %s in %s to %s, then run docker compose -p %s %sup -d %s (nothing was '
            'changed)' % (name, compose['service'], compose['project'], problem, compose['service'],
                          image_file or ', '.join(compose['config_files']) or 'its compose file', image,
                          compose['project'], files + ' ' if files else '', compose['service']))


def _write_like(path, text, like):
    """Write text to path with the mode and owner of the file ``like``."""
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    info = os.stat(like)
    os.chmod(path, info.st_mode & 0o7777)
    if hasattr(os, 'chown'):
        try:
            os.chown(path, info.st_uid, info.st_gid)
        except PermissionError:
            pass    # not root: the file stays ours, as any edit by this user would leave it


def replace_file(path, text):
    """Replace path atomically (a file in the same folder renamed over it), keeping its mode and owner."""
    handle, temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.fleetsafe',
                                    dir=os.path.dirname(path))
    os.close(handle)
    try:
        _write_like(temp, text, path)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def checked_compose_edit(compose, image_file, new_text, service, image):
    """Ask Compose what the edited files mean before writing anything: the same project with only the service's
    image changed, else MoveError (nothing written)."""
    handle, temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(image_file), suffix='.fleetsafe.yml',
                                    dir=os.path.dirname(image_file))
    os.close(handle)
    try:
        _write_like(temp, new_text, image_file)
        before = compose.config()
        after = compose.config(files=[temp if f == image_file else f for f in compose.files])
    finally:
        os.unlink(temp)
    got = ((after.get('services') or {}).get(service) or {}).get('image')
    if got != image:
        raise MoveError('after the edit, docker compose config gives service %s the image %r, not %r' % (
            service, got, image))
    after['services'][service]['image'] = ((before.get('services') or {}).get(service) or {}).get('image')
    if after != before:
        raise MoveError('the edit of %s changes more than the image of service %s (docker compose config differs)'
                        % (image_file, service))


def service_containers(engine, compose):
    found = engine.call('GET', '/containers/json', params={'all': 1, 'filters': json.dumps({'label': [
        '%s=%s' % (M.COMPOSE_PROJECT, compose['project']), '%s=%s' % (M.COMPOSE_SERVICE, compose['service'])]})})
    return [c for c in found or [] if (c.get('Labels') or {}).get(M.COMPOSE_ONEOFF) != 'True']


def move_compose(module, engine, old, new_image, compose, result):
    """Move a Compose service's container through its project: change the service's image in the compose file its
    labels name, then `docker compose up -d --no-deps SERVICE`; put the file back and bring the service up again
    when the new container does not become healthy."""
    p = module.params
    name, image, service = p['name'], p['image'], compose['service']
    image_file, image_in_file, problem = M.locate_compose_image(compose, read_text)
    result.update(compose_file=image_file)
    if p['env']:
        raise MoveError('%s is service %s of the Compose project %s: set %s in the environment of service %s in %s '
                        'and run docker compose up -d %s; this module changes only the image of a Compose service '
                        '(nothing was changed)' % (name, service, compose['project'], ', '.join(sorted(p['env'])),
                                                   service, image_file or 'its compose file', service))
    if problem is not None:
        raise MoveError(compose_blocker(name, compose, image_file, image, problem))
    if image_in_file == image and old['Config'].get('Image') == image and old['Image'] == new_image['Id']:
        result['health'] = health_text(old['State'])
        return result
    handler = Compose(module, engine.socket_path, compose)
    if handler.command is None:
        raise MoveError(compose_blocker(name, compose, image_file, image, 'Docker Compose v2 (docker compose or '
                                        'docker-compose 2.x) is not installed on this host'))
    text = read_text(image_file)
    new_text = M.set_service_image(text, service, image) if image_in_file != image else text
    if new_text != text:
        try:
            checked_compose_edit(handler, image_file, new_text, service, image)
        except MoveError as exc:
            raise MoveError(compose_blocker(name, compose, image_file, image, str(exc))) from None
    result.update(changed=True, move_needed=True, to=image, diff={
        'before': text, 'after': new_text, 'before_header': image_file, 'after_header': image_file})
    if module.check_mode:
        return result
    was_running = result['was_running']
    up = ['up', '--detach', '--no-deps', service] if was_running else ['up', '--no-start', '--no-deps', service]
    replace_file(image_file, new_text)
    started = time.monotonic()
    rc, out, err = handler.run(*up)
    why = None if rc == 0 else 'docker compose %s failed: %s' % (' '.join(up), (err or out).strip()[-500:])
    containers = service_containers(engine, compose) if why is None else []
    if why is None and was_running:
        for item in containers:
            info = engine.find('containers', item['Id']) or {}
            check = (info.get('Config') or {}).get('Healthcheck') or {}
            has_health = bool(check.get('Test')) and check['Test'][0] != 'NONE'
            ready, reason = wait_ready(engine, item['Id'], has_health, p['wait_timeout'])
            if not ready:
                why = '%s did not become healthy on %s: %s' % (name, image, reason)
                break
        result['seconds_down'] = round(time.monotonic() - started, 2)
    if why is not None:
        replace_file(image_file, text)
        rc, out, err = handler.run(*up)
        back = ('rolled back: %s has its image %s again in %s and docker compose brought it up again' % (
            service, image_in_file, image_file)) if rc == 0 else \
            'ROLLBACK FAILED: %s has its image %s again in %s, but docker compose %s failed: %s' % (
                service, image_in_file, image_file, ' '.join(up), (err or out).strip()[-300:])
        result.update(rolled_back=rc == 0, to=result['from'])
        error = MoveError('%s; %s' % (why, back))
        error.result = result
        raise error
    now = engine.find('containers', name) or {}
    result['container_id'] = (now.get('Id') or '')[:12] or result['container_id']
    result['health'] = health_text(now.get('State') or {})
    return result


def rollback(engine, old, name, new_id, was_running, timeout):
    """Remove the new container, give the old one its name back and start it again.

    Returns (error, health): error None when the old container runs again; health is its healthcheck's verdict
    once decided (it may have been unhealthy before the move too: that is the state it is put back in)."""
    try:
        if new_id is not None:
            engine.call('DELETE', '/containers/%s' % new_id, params={'v': 0, 'force': 1})
        engine.call('POST', '/containers/%s/rename' % old['Id'], params={'name': name})
        if not was_running:
            return None, None
        engine.call('POST', '/containers/%s/start' % old['Id'])
        has_health = bool(((old.get('Config') or {}).get('Healthcheck') or {}).get('Test')) and \
            old['Config']['Healthcheck']['Test'][0] != 'NONE'
        ready, why = wait_ready(engine, old['Id'], has_health, timeout)
        state = (engine.find('containers', old['Id']) or {}).get('State') or {}
        if not state.get('Running'):
            return 'the old container did not start again: %s' % why, None
        return None, (state.get('Health') or {}).get('Status') if has_health else 'running'
    except MoveError as exc:
        return str(exc), None


def main():
    module = AnsibleModule(argument_spec=dict(
        name=dict(type='str', required=True),
        image=dict(type='str', required=True),
        env=dict(type='dict', default={}),
        docker_host=dict(type='str', default='unix:///var/run/docker.sock'),
        wait_timeout=dict(type='int', default=120),
        stop_timeout=dict(type='int'),
        timeout=dict(type='int', default=60),
    ), supports_check_mode=True)
    socket_path = socket_path_of(module.params['docker_host'])
    if socket_path is None:
        module.fail_json(msg='docker_host must be a unix socket (unix:///var/run/docker.sock), not %r: this module '
                             'never opens a TCP connection, so run it on the Docker host itself.'
                             % module.params['docker_host'])
    if not module.params['name'].strip() or '/' in module.params['name']:
        module.fail_json(msg='name must be the name of a container, got %r (nothing was changed)'
                             % module.params['name'])
    bad_env = [k for k, v in module.params['env'].items() if isinstance(v, (dict, list)) or v is None]
    if bad_env:
        module.fail_json(msg='env values must be strings or numbers: %s (nothing was changed)' % ', '.join(bad_env))
    engine = None
    try:
        engine = Engine(socket_path, module.params['timeout'])
        result = move(module, engine)
    except MoveError as exc:
        details = dict(getattr(exc, 'result', None) or {'name': module.params['name'], 'changed': False})
        module.fail_json(msg=str(exc), **details)
    finally:
        if engine is not None:
            engine.close()
    module.exit_json(**result)


if __name__ == '__main__':
    main()
