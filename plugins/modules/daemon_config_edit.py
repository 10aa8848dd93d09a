#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: daemon_config_edit
short_description: Rename or remove the daemon.json settings a target dockerd refuses to start with
version_added: 0.2.0
description:
  - Edits dockerd's configuration file (C(/etc/docker/daemon.json)) before an engine upgrade, as the
    V(edit_daemon_config) steps of the P(fleetsafe.container_engine.upgrade_plan#filter) filter say - for example
    the key C(graph), which dockerd 24.0 and later refuses, renamed to C(data-root) with the same value.
  - A setting is renamed (its value kept, at the same place in the file) when O(edits[].replacement) is given, and
    removed when it is null. Only the named settings change; every other key and value stays as it was.
  - The file is written only when something changes, replaced atomically with its mode and owner kept. It stays
    valid JSON, indented as it was (a file on one line stays on one line).
  - A setting the file does not hold is nothing to do. A rename whose new name is already in the file with
    another value, a file that is not a JSON object, or an edit naming an unsupported place fails the task with
    one error naming the value and the fix, and the file is left untouched.
  - When O(path) is a symbolic link, the link stays and the file it points at is edited.
  - The running daemon is not restarted; the new file takes effect at its next start.
author:
  - fleetsafe developers (@fleetsafe)
options:
  path:
    description: The daemon's configuration file.
    type: path
    default: /etc/docker/daemon.json
  edits:
    description:
      - The settings to change, applied in order. The V(edit_daemon_config) steps of
        P(fleetsafe.container_engine.upgrade_plan#filter) carry these fields (C(where), C(setting) and the
        replacement in C(to)).
    type: list
    elements: dict
    required: true
    suboptions:
      where:
        description:
          - Where the setting is written - V(daemon_json) a top-level key, V(log_opt) a key of C(log-opts),
            V(storage_opt) an entry C(NAME=VALUE) of C(storage-opts) (matched by C(NAME)).
        type: str
        choices: [daemon_json, log_opt, storage_opt]
        default: daemon_json
      setting:
        description: The key or option name as it is written, for example V(graph).
        type: str
        required: true
      replacement:
        description: The name it takes instead, keeping its value (V(data-root)); null removes the setting.
        type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports the edits it would make (and the diff with C(--diff)); the file is not written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff_mode).
    support: full
notes:
  - The upgrade role keeps a copy of the file (content, mode and owner) before its first change and puts it
    back on a rollback.
seealso:
  - plugin: fleetsafe.container_engine.upgrade_plan
    plugin_type: filter
  - plugin: fleetsafe.container_engine.compat_findings
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Rename the key dockerd 24.0+ refuses
  fleetsafe.container_engine.daemon_config_edit:
    edits:
      - setting: graph
        replacement: data-root
  become: true

- name: Drop a removed storage option and rename a fluentd log option (check mode with --diff shows the diff)
  fleetsafe.container_engine.daemon_config_edit:
    edits:
      - where: storage_opt
        setting: overlay2.override_kernel_check
      - where: log_opt
        setting: fluentd-async-connect
        replacement: fluentd-async
  become: true
"""

RETURN = r"""
changed:
  description: Whether the file was (or, in check mode, would be) rewritten.
  type: bool
  returned: always
path:
  description: The file.
  type: str
  returned: always
edits:
  description: What was done per requested edit.
  type: list
  elements: dict
  returned: always
  contains:
    where:
      description: Where the setting is written.
      type: str
    setting:
      description: The setting.
      type: str
    replacement:
      description: Its new name, or null when it was removed.
      type: str
    result:
      description: V(renamed), V(removed), or V(absent) (the file does not hold it; nothing to do).
      type: str
  sample:
    - {where: daemon_json, setting: graph, replacement: data-root, result: renamed}
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

PLACES = ('daemon_json', 'log_opt', 'storage_opt')


class EditError(Exception):
    pass


def _rename_key(mapping, old, new, where_words):
    """A copy of ``mapping`` with ``old`` renamed ``new`` at the same position (or dropped when ``new`` is None)."""
    if new is not None and new in mapping and new != old:
        if mapping[new] != mapping[old]:
            raise EditError(
                '%s holds both "%s" (%s) and its replacement "%s" (%s): keep one of them by hand and run again'
                % (where_words, old, json.dumps(mapping[old]), new, json.dumps(mapping[new])))
        new = None  # the replacement is already there with the same value: the old key just goes
    out = {}
    for key, value in mapping.items():
        if key == old:
            if new is not None:
                out[new] = value
        else:
            out[key] = value
    return out


def apply_edits(config, edits):
    """(edited copy, per-edit results) of a parsed daemon.json; raises EditError on what it cannot do."""
    results = []
    for edit in edits:
        where, setting, new = edit.get('where') or 'daemon_json', edit['setting'], edit.get('replacement')
        result = dict(where=where, setting=setting, replacement=new, result='absent')
        if where == 'daemon_json':
            if setting in config:
                config = _rename_key(config, setting, new, 'daemon.json')
                result['result'] = 'renamed' if new is not None else 'removed'
        elif where == 'log_opt':
            opts = config.get('log-opts')
            if opts is not None and not isinstance(opts, dict):
                raise EditError('"log-opts" in daemon.json must be an object, got %s: fix the file by hand'
                                % json.dumps(opts))
            if opts and setting in opts:
                config = dict(config)
                config['log-opts'] = _rename_key(opts, setting, new, '"log-opts" in daemon.json')
                result['result'] = 'renamed' if new is not None else 'removed'
        else:   # storage_opt: entries NAME=VALUE of the list storage-opts
            opts = config.get('storage-opts')
            if opts is not None and not isinstance(opts, list):
                raise EditError('"storage-opts" in daemon.json must be a list, got %s: fix the file by hand'
                                % json.dumps(opts))
            kept, hit = [], False
            for item in opts or []:
                name, sep, value = item.partition('=') if isinstance(item, str) else (None, '', None)
                if name is not None and name.strip() == setting:
                    hit = True
                    if new is not None:
                        kept.append(new + sep + value)
                else:
                    kept.append(item)
            if hit:
                config = dict(config)
                config['storage-opts'] = kept
                result['result'] = 'renamed' if new is not None else 'removed'
        results.append(result)
    return config, results


def _indent(text):
    """The file's own indentation: None for a one-line file, else the first indented line's (tabs kept)."""
    lines = text.strip().splitlines()
    if len(lines) < 2:
        return None
    for line in lines[1:]:
        stripped = line.lstrip(' \t')
        if stripped and stripped[0] not in '}]':
            return line[:len(line) - len(stripped)] or None
    return 2


def render(config, original):
    indent = _indent(original)
    text = json.dumps(config, indent=indent, ensure_ascii=False)
    return text + '\n' if original.endswith('\n') or indent is not None else text


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/docker/daemon.json'),
            edits=dict(type='list', elements='dict', required=True, options=dict(
                where=dict(type='str', default='daemon_json', choices=list(PLACES)),
                setting=dict(type='str', required=True),
                replacement=dict(type='str'),
            )),
        ),
        supports_check_mode=True,
    )
    path, edits = module.params['path'], module.params['edits']
    out = dict(changed=False, path=path, edits=[])
    if not os.path.exists(path):
        out['edits'] = [dict(e, result='absent') for e in edits]
        module.exit_json(**out)
    with open(path, 'rb') as fh:
        raw = fh.read()
    try:
        original = raw.decode('utf-8')
        config = json.loads(original) if original.strip() else {}
    except ValueError as exc:
        module.fail_json(msg='%s is not valid JSON (%s): fix it by hand; nothing was changed' % (path, exc), **out)
    if not isinstance(config, dict):
        module.fail_json(msg='%s must hold a JSON object, got %s: fix it by hand; nothing was changed' % (
            path, type(config).__name__), **out)
    try:
        edited, results = apply_edits(config, edits)
    except EditError as exc:
        module.fail_json(msg='%s: %s; nothing was changed' % (path, exc), **out)
    out['edits'] = results
    if edited == config and list(edited) == list(config):
        module.exit_json(**out)
    text = render(edited, original)
    out['changed'] = True
    if module._diff:
        out['diff'] = dict(before=original, after=text, before_header=path, after_header=path)
    if not module.check_mode:
        target = os.path.realpath(path)     # a link (a configuration tool's) stays; the file it points at changes
        st = os.stat(target)
        fd, tmp = tempfile.mkstemp(prefix='.daemon.json.', dir=os.path.dirname(target) or '.')
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as fh:
                fh.write(text)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.chown(tmp, st.st_uid, st.st_gid)
            module.atomic_move(tmp, target, unsafe_writes=False)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    module.exit_json(**out)


if __name__ == '__main__':
    main()
