# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private: imported by this collection's action plugins only; not a public API.
"""Run a *_facts module and merge its part of ansible_facts.container_engine into what the host has.

Ansible merges module facts at the top level only, so `docker_facts` then `containerd_facts` would
leave only `container_engine.containerd`. The action side keeps the parts already gathered.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

FACTS_KEY = "container_engine"


class FactsMergeAction(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result.update(self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                           module_args=self._task.args, task_vars=task_vars))
        new = (result.get("ansible_facts") or {}).get(FACTS_KEY)
        existing = (task_vars.get("ansible_facts") or {}).get(FACTS_KEY)
        if isinstance(new, dict) and isinstance(existing, dict):
            merged = dict(existing)
            merged.update(new)
            result["ansible_facts"][FACTS_KEY] = merged
        return result
