# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import upstream_version as _upstream
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError

DOCUMENTATION = r'''
name: upstream_version
short_description: The upstream release of a Debian package version or of a version a daemon prints
version_added: 0.3.0
author: fleetsafe developers
description:
  - Returns the upstream release (V(major.minor.patch)) a package version or a daemon's answer stands for - the one
    conversion the roles and modules use (C(module_utils/_parse.py) C(upstream_version)).
  - V(5:28.0.1-1~debian.12~bookworm) gives V(28.0.1), V(1.7.24~ds1-6+deb13u1) V(1.7.24), V(20.10.24+dfsg1-1+deb12u1+b6)
    V(20.10.24), V(2.1.9+unknown) V(2.1.9), a line V(26.1) V(26.1.0).
  - An empty value gives V(''); a value that starts with no version raises an error starting with
    C(upstream_version) that names it.
options:
  _input:
    description: A Debian package version, or the version a daemon answers with.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: The engine's upstream release from its package version
  ansible.builtin.debug:
    msg: "{{ '5:28.0.1-1~debian.12~bookworm' | fleetsafe.container_engine.upstream_version }}"  # 28.0.1
'''

RETURN = r'''
_value:
  description: The upstream release, or V('') for an empty value.
  type: str
'''


def _upstream_version(version):
    if version is None or str(version).strip() == '':
        return ''
    found = _upstream(version)
    if found is None:
        raise InputError('%r is not a version: give a package version such as 1.7.24~ds1-6+deb13u1 or a release '
                         'such as 26.1.5' % (str(version)[:80],))
    return found


upstream_version = named_filter('upstream_version', _upstream_version)


class FilterModule:
    def filters(self):
        return {'upstream_version': upstream_version}
