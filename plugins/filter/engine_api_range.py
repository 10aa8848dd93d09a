# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._predict import engine_api_range as _range

DOCUMENTATION = r'''
name: engine_api_range
short_description: The Docker API versions an Engine release serves and the overrides it accepts
version_added: 0.1.0
author: fleetsafe developers
description:
  - Looks an Engine version (V(26.1.5), V(20.10.24+dfsg1), V(5:28.0.1-1~debian.12~bookworm)) or line up in
    the knowledge base.
  - Raises an error starting with C(engine_api_range) for a malformed version or a line the knowledge base
    does not know.
options:
  _input:
    description: Engine version or line.
    type: str
    required: true
  knowledge:
    description: Extra or changed knowledge-base rows (see compat_findings).
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Lowest DOCKER_MIN_API_VERSION the target accepts
  ansible.builtin.debug:
    msg: "{{ ('26.1.5' | fleetsafe.container_engine.engine_api_range).min_override_floor }}"  # 1.24
'''

RETURN = r'''
_value:
  description: The line's API range.
  type: dict
  contains:
    line:
      description: Knowledge-base line the version belongs to.
      type: str
    max:
      description: Highest API version served.
      type: str
    min:
      description: Lowest API version accepted by default.
      type: str
    min_override_floor:
      description: Lowest value DOCKER_MIN_API_VERSION may take; null when the engine does not read it.
      type: str
    min_override_env:
      description: Whether the engine reads DOCKER_MIN_API_VERSION.
      type: bool
    min_override_daemon_json:
      description: Whether daemon.json accepts C(min-api-version).
      type: bool
    rejects_too_new:
      description: Whether the daemon rejects clients newer than C(max).
      type: bool
    source:
      description: Where the row comes from.
      type: str
'''


engine_api_range = named_filter('engine_api_range', _range)


class FilterModule:
    def filters(self):
        return {'engine_api_range': engine_api_range}
