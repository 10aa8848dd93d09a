# Private to fleetsafe.container_engine: imported only by this collection's modules, no public API.
#
# Docker API clients that run on the host itself (programs, systemd services) rather than in containers:
# the processes connected to dockerd's API socket right now, and the systemd units that point a program at
# it (DOCKER_HOST=, a path to docker.sock) whether or not it runs. docs/facts.md (clients) is the contract.
#
# How a connection is found, without connecting to anything: the server ends dockerd accepted carry the
# socket's path in /proc/net/unix (of dockerd's network namespace); the kernel's sock_diag netlink dump
# (UNIX_DIAG_PEER, what `ss -xp` reads) pairs each with the client's socket; /proc/PID/fd tells which process
# holds that one. What a client is and which release it runs is read, not asked: the package that owns its
# executable (dpkg), the docker package a Python interpreter would import (its *.dist-info), and only for the
# docker CLI, when no package owns it, `docker --version` (prints the client's version; never calls the daemon).
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import re
import stat

from ansible_collections.fleetsafe.container_engine.plugins.module_utils import _parse as P

# Executables the knowledge base knows by name (clients.yml name or alias).
PROGRAMS = {'docker': 'docker', 'gitlab-runner': 'gitlab-runner', 'docker-compose': 'docker-compose'}
# The programs whose version flag only prints the client's own version (docs.docker.com: `docker --version`,
# "Print version information and quit"); run only when no package owns the executable.
VERSION_FLAGS = {'docker': ['--version']}
# The variable each program reads to pin its API version: the docker CLI, Compose v2 (built on the CLI's library) and
# Go programs built on the Docker client library read DOCKER_API_VERSION; docker-compose v1 (Python) reads
# COMPOSE_API_VERSION; docker-py reads none (its version is an argument in the program's code).
API_ENV = {'docker-py': None}
COMPOSE_V1_API_ENV = 'COMPOSE_API_VERSION'
DEFAULT_API_ENV = 'DOCKER_API_VERSION'
PYTHON_RE = re.compile(r'^python(\d+(\.\d+)?)?$')
# Where administrators and installers put their own services; units shipped by packages (/usr/lib/systemd/system)
# are read only through a drop-in of theirs.
OWN_UNIT_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system')
ENGINE_UNITS = ('docker.service', 'docker.socket', 'containerd.service')


def empty():
    return {'host_processes': [], 'declared_by_unit': [], 'host_processes_error': None}


def _client_inodes(ctx, socket_paths, netns_pids):
    """{client socket inode: socket path} for the connections to socket_paths, or (None, sentence)."""
    servers = {}
    tables = ['/proc/net/unix'] + ['/proc/%s/net/unix' % pid for pid in netns_pids]
    for table in tables:
        for inode, path in P.parse_proc_net_unix(ctx.read(table)):
            wanted = next((s for s in socket_paths if P.same_socket_path(path, s)), None)
            if wanted:
                servers[inode] = path
    if not servers:
        return {}, None
    answer = ctx.host.unix_peers()
    if answer.get('pairs') is None:
        return None, ('The connections to the Docker socket could not be listed: %s (the kernel needs unix_diag, '
                      'CONFIG_UNIX_DIAG); host processes that use the API are not shown.' % answer.get('error'))
    return {inode: servers[peer] for inode, peer in answer['pairs'] if peer in servers and inode not in servers}, None


def _package_version(ctx, path):
    """(package, upstream version) of the package that owns path, else (None, None)."""
    dpkg = ctx.host.which('dpkg-query')
    if not dpkg or not path:
        return None, None
    rc, out, _err = ctx.host.run([dpkg, '-S', path])
    package = P.parse_dpkg_search(out) if rc == 0 else None
    if package is None:
        return None, None
    rc, out, _err = ctx.host.run([dpkg, '-W', '-f=${Version}', package])
    return package, (P.upstream_version(out.strip()) if rc == 0 else None)


def _trusted(ctx, exe):
    """An executable root owns and only root can write: running its version flag runs nothing a user planted."""
    owner = ctx.host.file_owner(exe)
    return owner is not None and owner[0] == 0 and not owner[1] & (stat.S_IWGRP | stat.S_IWOTH)


def _python_paths(ctx, pid, exe, argv, env):
    """The folders a Python process imports from, in sys.path order: the script's folder (the working directory
    for -c / -m), PYTHONPATH, a virtual environment's site-packages, the system's (user site-packages is not
    read)."""
    major_minor = (PYTHON_RE.match(os.path.basename(exe)).group(1) or '3') if exe else '3'
    cwd = ctx.readlink('/proc/%s/cwd' % pid) or '/'
    paths = []
    args = argv[1:]
    script = None
    for arg in args:
        if arg in ('-c', '-m'):
            break
        if arg.startswith('-'):
            continue
        script = arg
        break
    paths.append(os.path.dirname(os.path.join(cwd, script)) if script else cwd)
    paths += [os.path.join(cwd, item) for item in (env.get('PYTHONPATH') or '').split(':') if item]
    if argv and argv[0].startswith('/'):
        venv = os.path.dirname(os.path.dirname(argv[0]))
        if ctx.host.exists(os.path.join(venv, 'pyvenv.cfg')):
            paths.append(os.path.join(venv, 'lib', 'python%s' % major_minor, 'site-packages'))
    paths += ['/usr/local/lib/python%s/dist-packages' % major_minor, '/usr/lib/python3/dist-packages',
              '/usr/lib/python%s/site-packages' % major_minor]
    return paths, script


def _python_program(ctx, pid, exe, argv, env):
    """(program, version, version_source) of a Python process: docker-compose v1 when its script is
    docker-compose, else docker-py when the interpreter would import the docker package; (None, None, None)."""
    paths, script = _python_paths(ctx, pid, exe, argv, env)
    if script and os.path.basename(script) == 'docker-compose':
        program, package, project = 'docker-compose', 'compose', 'docker-compose'
    else:
        program, package, project = 'docker-py', 'docker', 'docker'
    for folder in paths:
        names = ctx.host.listdir(folder) or []
        if package in names:
            version = P.dist_version(names, project)
            return program, version, ('%s/%s-%s (its dist-info)' % (folder, project, version) if version else None)
    return None, None, None


def _identify(ctx, pid, exe, argv, env):
    """(program, version, version_source) of a client process; program None when the knowledge base cannot know
    it."""
    path = exe[:-len(' (deleted)')] if exe and exe.endswith(' (deleted)') else exe
    base = os.path.basename(path or (argv[0] if argv else ''))
    if PYTHON_RE.match(base):
        return _python_program(ctx, pid, path, argv, env)
    program = PROGRAMS.get(base)
    if program is None:
        return None, None, None
    if exe != path:
        return program, None, None          # replaced on disk since it started: what runs is not what is there
    package, version = _package_version(ctx, path)
    if version:
        return program, version, 'package %s' % package
    flag = VERSION_FLAGS.get(program)
    if flag and _trusted(ctx, path):
        rc, out, _err = ctx.host.run([path] + flag)
        version = P.parse_docker_cli_version(out) if rc == 0 else None
        if version:
            return program, version, '%s %s' % (path, ' '.join(flag))
    return program, None, None


def host_processes(ctx, socket_paths, netns_pids=()):
    """(entries, error sentence or None): every process of this host connected to one of socket_paths."""
    clients, problem = _client_inodes(ctx, socket_paths, netns_pids)
    if problem or not clients:
        return [], problem
    held = ctx.host.process_sockets()
    if held.get('unreadable'):
        ctx.note('Could not read the open files of %d processes (permission denied) to see which use the Docker '
                 'socket: run the task with become: true.' % held['unreadable'])
    own = ctx.host.own_pid()
    users = {proc['pid']: proc['uid'] for proc in ctx.processes()}
    found = []
    for pid, inodes in held.get('sockets') or []:
        sockets = sorted({clients[inode] for inode in inodes if inode in clients})
        if not sockets or pid == own:
            continue
        exe = ctx.readlink('/proc/%s/exe' % pid, why='which program uses the Docker socket')
        argv = P.parse_cmdline(ctx.read('/proc/%s/cmdline' % pid, binary=True))
        environ = ctx.read('/proc/%s/environ' % pid, binary=True, why='the environment of a Docker API client')
        env = P.parse_environ(environ) if environ is not None else {}
        unit, scope = P.unit_from_cgroup(ctx.read('/proc/%s/cgroup' % pid))
        program, version, source = _identify(ctx, pid, exe, argv, env)
        python = bool(PYTHON_RE.match(os.path.basename((exe or '').replace(' (deleted)', ''))))
        api_env = (COMPOSE_V1_API_ENV if python and program == 'docker-compose'
                   else API_ENV.get(program, DEFAULT_API_ENV))
        uid = users.get(pid)
        found.append({
            'name': None, 'pid': pid, 'exe': exe, 'exe_deleted': bool(exe and exe.endswith(' (deleted)')),
            'cmdline': argv, 'uid': uid, 'user': ctx.host.user_name(uid) if uid is not None else None,
            'systemd_unit': unit, 'systemd_scope': scope, 'socket_path': sockets[0],
            'program': program, 'version': version, 'version_source': source,
            'api_version_env': env.get(api_env) if api_env else None, 'docker_host_env': env.get('DOCKER_HOST'),
        })
    for entry in found:
        base = os.path.basename((entry['exe'] or '').replace(' (deleted)', '')) or 'pid'
        alone = sum(1 for other in found if other['systemd_unit'] == entry['systemd_unit']) == 1
        service = (entry['systemd_unit'] or '').endswith('.service')
        entry['name'] = entry['systemd_unit'] if service and alone else '%s[%d]' % (base, entry['pid'])
    return found, None


def _unit_names(ctx):
    names = set()
    for folder in OWN_UNIT_DIRS:
        names.update(name for name in ctx.host.listdir(folder) or [] if name.endswith('.service'))
    for folder in ('/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system',
                   '/usr/lib/systemd/system', '/lib/systemd/system'):
        names.update(name[:-2] for name in ctx.host.listdir(folder) or [] if name.endswith('.service.d'))
    return sorted(name for name in names if name not in ENGINE_UNITS)


def declared_by_unit(ctx, unit_texts, unit_environment, is_docker_socket, connected_units):
    """Services whose unit points a program at a Docker engine: DOCKER_HOST in Environment= / EnvironmentFile=,
    or -H / --host / a path to docker.sock on ExecStart=."""
    found = []
    for unit in _unit_names(ctx):
        texts = unit_texts(ctx, unit)
        if not texts:
            continue
        env = unit_environment(ctx, texts, ('DOCKER_HOST', 'DOCKER_API_VERSION'))
        path, argv = P.effective_exec_start(texts)
        docker_host, where = env.get('DOCKER_HOST', (None, None))
        if docker_host is None and argv:
            option = P.cmdline_option(argv, '--host', '-H')
            mention = next((arg for arg in argv if 'docker.sock' in arg), None)
            docker_host = option or mention
            where = path if docker_host else None
        if docker_host is None:
            continue
        socket_path = docker_host[len('unix://'):] if docker_host.startswith('unix://') else (
            docker_host if docker_host.startswith('/') else None)
        if socket_path and not is_docker_socket(socket_path):
            socket_path = None if 'docker.sock' not in socket_path else socket_path
        found.append({
            'unit': unit, 'where': where, 'docker_host': docker_host, 'socket_path': socket_path,
            'api_version_env': env.get('DOCKER_API_VERSION', (None, None))[0],
            'exec_start': argv or None, 'connected': unit in connected_units,
        })
    return found
