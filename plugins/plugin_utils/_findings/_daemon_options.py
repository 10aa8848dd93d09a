# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings about dockerd's settings in daemon.json: keys, logging and storage options a release refuses,
ignores or deprecates (knowledge base section daemon_options)."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._daemon_options import (
    daemon_json_settings,
    judge_setting,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._findings._registry import finding, hit


def judged_settings(ctx):
    """(engine Version judged against, daemon.json path, setting as written, prediction) per known setting."""
    docker = ctx.host.docker
    if docker is None or not docker.get('daemon_json'):
        return []
    engine = ctx.target['engine'] or docker['version']
    if engine is None:
        return []
    found = []
    for where, setting, value, written in daemon_json_settings(docker['daemon_json']):
        judged = judge_setting(ctx.kb, engine.line, setting, value, where)
        if judged['id'] is not None:
            found.append((engine, written, judged))
    return found


def _target_words(ctx, engine):
    return 'the target dockerd %s' % engine.raw if ctx.target['engine'] else 'dockerd %s' % engine.raw


@finding('daemon_option_refused', 'blocker', 'engine', kb=['daemon_options:*'],
         summary='a daemon.json setting (key, logging driver or option, storage option) dockerd refuses to start with')
def daemon_option_refused(ctx, me):
    for engine, written, judged in judged_settings(ctx):
        if judged['starts'] is not False:
            continue
        caught = ('`dockerd --validate` reports it too' if judged['validate_detects']
                  else '`dockerd --validate` does not notice it: only a real start fails')
        yield hit('engine',
                  '%s would refuse to start with %s in daemon.json: "%s" (%s)' % (
                      _target_words(ctx, engine), written, judged['message'], caught),
                  judged['remedy'], judged['source'])


@finding('daemon_option_ignored', 'warning', 'engine', kb=['daemon_options:*'],
         summary='a daemon.json setting dockerd still starts with but no longer acts on')
def daemon_option_ignored(ctx, me):
    for engine, written, judged in judged_settings(ctx):
        if judged['state'] == 'ignored':
            yield hit('engine', '%s accepts %s in daemon.json but no longer acts on it' % (
                _target_words(ctx, engine), written), judged['remedy'], judged['source'])


@finding('daemon_option_deprecated', 'info', 'engine', kb=['daemon_options:*'],
         summary='a deprecated daemon.json setting that a later release refuses or ignores')
def daemon_option_deprecated(ctx, me):
    for engine, written, judged in judged_settings(ctx):
        if judged['state'] == 'deprecated':
            yield hit('engine', '%s in daemon.json is deprecated in %s%s' % (
                written, engine.raw, ' (use %s)' % judged['replacement'] if judged['replacement'] else ''),
                judged['remedy'], judged['source'])
