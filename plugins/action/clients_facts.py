# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action side of clients_facts: keeps the parts of ansible_facts.container_engine gathered earlier."""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts_action import FactsMergeAction


class ActionModule(FactsMergeAction):
    pass
