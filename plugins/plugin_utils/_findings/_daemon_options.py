# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about dockerd's settings, in daemon.json, on its command line (the running dockerd's, or the
ExecStart= of docker.service and its drop-ins) and in its environment: keys, flags, logging and storage options,
variables a release refuses, ignores or deprecates (knowledge base section daemon_options)."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._daemon_options import (
    daemon_environment_settings,
    daemon_flag_settings,
    daemon_json_settings,
    judge_setting,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit


def judged_settings(ctx):
    """(engine Version judged against, setting as written, prediction, file) per known setting.

    file is None for daemon.json (the plan can edit it) and the unit, drop-in or /proc/PID/cmdline for a flag.
    """
    def compute():
        docker = ctx.host.docker
        if docker is None:
            return []
        engine = ctx.target['engine'] or docker['version']
        if engine is None:
            return []
        found = []
        settings = [item + (None,) for item in daemon_json_settings(docker['daemon_json'] or {})]
        settings += daemon_flag_settings(docker.get('daemon_flags') or [])
        settings += daemon_environment_settings(docker.get('daemon_environment') or [])
        for where, setting, value, written, file in settings:
            judged = judge_setting(ctx.kb, engine.line, setting, value, where)
            if judged['id'] is not None:
                found.append((engine, written, judged, file))
        return found
    return ctx.once('daemon_settings', compute)


def _place(written, file):
    """'"graph" in daemon.json' or '--graph /srv in /etc/systemd/system/docker.service.d/x.conf'."""
    return '%s in daemon.json' % written if file is None else '%s in %s' % (written, file)


def _remedy(judged, file):
    if file is None:
        return judged['remedy']
    what = 'variable' if judged['where'] == 'environment' else 'flag'
    if file.startswith('/proc/'):
        return '%s (dockerd was started by hand or by another supervisor, with this %s: %s)' % (
            judged['remedy'], what, file)
    return '%s The %s is in %s: edit it there, then `systemctl daemon-reload`.' % (judged['remedy'], what, file)


def _target_words(ctx, engine):
    return 'the target dockerd %s' % engine.raw if ctx.target['engine'] else 'dockerd %s' % engine.raw


@finding('daemon_option_refused', 'blocker', 'engine', kb=['daemon_options:*'],
         summary='a daemon.json setting, dockerd flag or variable of its environment (key, flag, logging driver or '
                 'option, storage option) dockerd refuses to start with')
def daemon_option_refused(ctx, entry):
    for engine, written, judged, file in judged_settings(ctx):
        if judged['starts'] is False:
            yield hit('engine', refused_message(ctx, engine, written, judged, file), _remedy(judged, file),
                      judged['source'])


def refused_message(ctx, engine, written, judged, file):
    """The message of daemon_option_refused for one setting (also named by the plan step that edits it away)."""
    caught = ('`dockerd --validate` reports it too' if judged['validate_detects']
              else '`dockerd --validate` does not notice it: only a real start fails')
    return '%s would refuse to start with %s: "%s" (%s)' % (
        _target_words(ctx, engine), _place(written, file), judged['message'], caught)


@finding('daemon_option_ignored', 'warning', 'engine', kb=['daemon_options:*'],
         summary='a daemon.json setting, dockerd flag or variable of its environment dockerd still starts with but '
                 'no longer acts on')
def daemon_option_ignored(ctx, entry):
    for engine, written, judged, file in judged_settings(ctx):
        if judged['state'] == 'ignored':
            yield hit('engine', '%s accepts %s but no longer acts on it' % (
                _target_words(ctx, engine), _place(written, file)), _remedy(judged, file), judged['source'])


@finding('daemon_option_deprecated', 'info', 'engine', kb=['daemon_options:*'],
         summary='a deprecated daemon.json setting, dockerd flag or variable of its environment that a later release '
                 'refuses or ignores')
def daemon_option_deprecated(ctx, entry):
    for engine, written, judged, file in judged_settings(ctx):
        if judged['state'] == 'deprecated':
            use = ' (use %s)' % judged['replacement'] if judged['replacement'] else ''
            yield hit('engine', '%s is deprecated in %s%s' % (_place(written, file), engine.raw, use),
                      _remedy(judged, file), judged['source'])
