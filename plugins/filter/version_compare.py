# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import compare

DOCUMENTATION = r'''
name: version_compare
short_description: Compare container engine, API and Debian package versions
version_added: 0.1.0
author: fleetsafe developers
description:
  - Returns -1, 0 or 1 as the first version is older, equal or newer.
  - V(upstream) compares releases as programs print them, ignoring packaging suffixes
    (V(20.10.24+dfsg1) = V(20.10.24), V(2.1.9+unknown) = V(2.1.9), V(v1.32) = V(1.32.0),
    V(29.0.0-rc.1) < V(29.0.0)).
  - V(api) compares Docker API versions numerically (V(1.9) < V(1.10)).
  - V(debian) compares package versions with dpkg's algorithm (epoch, V(~) before everything).
  - Raises an error starting with C(version_compare) for a value that is not a version of the scheme.
options:
  _input:
    description: First version.
    type: str
    required: true
  other:
    description: Second version.
    type: str
    required: true
  scheme:
    description: How to read both versions.
    type: str
    default: upstream
    choices: [upstream, api, debian]
'''

EXAMPLES = r'''
- name: Is the installed package newer than what runs?
  ansible.builtin.debug:
    msg: "{{ '20.10.24+dfsg1-1+deb12u1+b6' | fleetsafe.container_engine.version_compare('26.1.5+dfsg1-9+deb13u1',
             'debian') }}"  # -1
'''

RETURN = r'''
_value:
  description: -1, 0 or 1.
  type: int
'''


version_compare = named_filter('version_compare', compare)


class FilterModule:
    def filters(self):
        return {'version_compare': version_compare}
