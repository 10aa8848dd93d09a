# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import PACKAGE_FAMILIES
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError

DOCUMENTATION = r'''
name: package_names
short_description: The package names of a family of Docker packages
version_added: 0.2.0
author: fleetsafe developers
description:
  - Returns which package is the engine, its client and containerd in a family - Debian's (V(debian) -
    C(docker.io), C(docker-cli), C(containerd)) or Docker's own repository's (V(docker-ce) - C(docker-ce),
    C(docker-ce-cli), C(containerd.io)).
  - The one table the roles and modules read; raises an error starting with C(package_names) for another family.
options:
  _input:
    description: The family.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: The engine package of Debian's family
  ansible.builtin.debug:
    msg: "{{ ('debian' | fleetsafe.container_engine.package_names).engine }}"  # docker.io
'''

RETURN = r'''
_value:
  description: C(engine), C(cli) and C(containerd), each a package name.
  type: dict
'''


def _names(family):
    if not isinstance(family, str) or family not in PACKAGE_FAMILIES:
        raise InputError('%r is not a package family: give one of %s' % (family, ', '.join(sorted(PACKAGE_FAMILIES))))
    return dict(PACKAGE_FAMILIES[family])


package_names = named_filter('package_names', _names)


class FilterModule:
    def filters(self):
        return {'package_names': package_names}
