# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Which manager owns a container (Docker Compose or a swarm service), read from the labels they put on it, and
# where the image of a Compose service is written in the files its labels name. The facts (clients_facts) and the
# move (api_client_move) both ask here, so they never disagree about a container.
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import re

# Labels Compose (v1 and v2) puts on every container of a project (docker/compose pkg/api/labels.go)
COMPOSE_PROJECT = 'com.docker.compose.project'
COMPOSE_SERVICE = 'com.docker.compose.service'
COMPOSE_WORKING_DIR = 'com.docker.compose.project.working_dir'
COMPOSE_CONFIG_FILES = 'com.docker.compose.project.config_files'
COMPOSE_VERSION = 'com.docker.compose.version'
COMPOSE_ONEOFF = 'com.docker.compose.oneoff'
# Labels the swarm puts on a service task's container (moby/swarmkit agent/exec/dockerapi/container.go)
SWARM_SERVICE_NAME = 'com.docker.swarm.service.name'
SWARM_SERVICE_ID = 'com.docker.swarm.service.id'
SWARM_TASK_NAME = 'com.docker.swarm.task.name'
STACK_NAMESPACE = 'com.docker.stack.namespace'

_KEY = re.compile(r'^(?P<indent> *)(?P<key>"[^"]*"|\'[^\']*\'|[^\s#:\'"][^:#]*?)\s*:(?:\s+|$)(?P<rest>.*)$')


def manager_of(labels):
    """(managed_by, manager): ('compose', {project, service, working_dir, config_files, compose_version}),
    ('swarm', {service_name, service_id, task_name, stack}) or (None, None)."""
    labels = labels or {}
    if labels.get(SWARM_SERVICE_NAME) or labels.get(SWARM_SERVICE_ID):
        return 'swarm', {
            'service_name': labels.get(SWARM_SERVICE_NAME) or None,
            'service_id': labels.get(SWARM_SERVICE_ID) or None,
            'task_name': labels.get(SWARM_TASK_NAME) or None,
            'stack': labels.get(STACK_NAMESPACE) or None,
        }
    if labels.get(COMPOSE_PROJECT) and labels.get(COMPOSE_SERVICE):
        files = [f.strip() for f in (labels.get(COMPOSE_CONFIG_FILES) or '').split(',') if f.strip()]
        return 'compose', {
            'project': labels[COMPOSE_PROJECT],
            'service': labels[COMPOSE_SERVICE],
            'working_dir': labels.get(COMPOSE_WORKING_DIR) or None,
            'config_files': files,
            'compose_version': labels.get(COMPOSE_VERSION) or None,
        }
    return None, None


def _unquote(text):
    if len(text) >= 2 and text[0] == text[-1] and text[0] in ('"', "'"):
        return text[1:-1]
    return text


def _value_of(rest):
    """The scalar after ``key:`` without a trailing comment: (value, its span in rest) or (None, None)."""
    rest = rest.rstrip('\r\n')
    stripped = rest.strip()
    if not stripped or stripped[0] in '|>&*!{[':
        return None, None
    if stripped[0] in ('"', "'"):
        end = stripped.find(stripped[0], 1)
        if end < 0:
            return None, None
        start = rest.find(stripped[0])
        return stripped[1:end], (start, start + end + 1)
    comment = re.search(r'\s#', rest)
    value = (rest[:comment.start()] if comment else rest).strip()
    start = rest.find(value)
    return value, (start, start + len(value))


def find_service_image(text, service):
    """Where a Compose file sets the image of ``service`` in block style (the way compose files are written):
    (line index, image) when a line ``image: X`` sits directly under the service under top-level ``services:``;
    (None, reason) when the file does not set it that way (no such service, no image line, flow style)."""
    lines = text.splitlines(True)
    in_services = False
    service_indent = None   # indent of the service names
    in_service = False
    child_indent = None
    found_service = False
    for index, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        match = _KEY.match(line.rstrip('\r\n'))
        indent = len(line) - len(line.lstrip(' '))
        if indent == 0:
            if in_service:
                break
            rest = match.group('rest').strip() if match else ''
            in_services = bool(match) and _unquote(match.group('key')) == 'services' and rest[:1] in ('', '#')
            continue
        if not in_services:
            continue
        if service_indent is None:
            service_indent = indent
        if indent == service_indent:
            if in_service:
                break
            in_service = bool(match) and _unquote(match.group('key').strip()) == service
            found_service = found_service or in_service
            continue
        if not in_service or indent < service_indent:
            continue
        if child_indent is None:
            child_indent = indent
        if indent == child_indent and match and _unquote(match.group('key').strip()) == 'image':
            value, _span = _value_of(match.group('rest'))
            if value is None:
                return None, 'the image of service %s is not a plain value on one line' % service
            return index, value
    if not found_service:
        return None, 'no service %s under services:' % service
    return None, 'service %s sets no image' % service


def set_service_image(text, service, image):
    """``text`` with the image of ``service`` replaced by ``image`` (quotes and comment of the line kept);
    ValueError with the reason when the file does not set it as find_service_image reads it."""
    index, found = find_service_image(text, service)
    if index is None:
        raise ValueError(found)
    lines = text.splitlines(True)
    line = lines[index]
    match = _KEY.match(line.rstrip('\r\n'))
    rest = match.group('rest')
    _value, (start, end) = _value_of(rest)
    quoted = rest[start] in ('"', "'")
    new_value = '%s%s%s' % (rest[start], image, rest[start]) if quoted else image
    prefix = line[:match.start('rest')]
    ending = line[len(line.rstrip('\r\n')):]
    lines[index] = prefix + rest[:start] + new_value + rest[end:] + ending
    return ''.join(lines)


def locate_compose_image(manager, read):
    """Where the move through the project changes the service's image: (file, image as written, problem).

    ``read(path)`` returns the file's text, None when it does not exist, or raises OSError (unreadable). The last
    config file that sets the image wins (later files override earlier ones, as Compose merges them). problem is
    one sentence, or None when the image line was found, written without a variable."""
    service = manager['service']
    files = manager['config_files']
    if not files:
        return None, None, 'its labels name no compose file (%s)' % COMPOSE_CONFIG_FILES
    found = None
    reasons = []
    for path in files:
        try:
            text = read(path)
        except OSError as exc:
            return path, None, 'cannot read %s: %s' % (path, exc.strerror or exc)
        if text is None:
            return path, None, '%s does not exist on this host' % path
        index, value = find_service_image(text, service)
        if index is not None:
            found = (path, value)
        else:
            reasons.append('%s: %s' % (path, value))
    if found is None:
        return files[-1], None, 'the image of service %s is not set in a way this collection can edit (%s)' % (
            service, '; '.join(reasons))
    path, value = found
    if '$' in value:
        return path, value, 'the image of service %s in %s comes from a variable (%s): change the variable' % (
            service, path, value)
    return path, value, None
