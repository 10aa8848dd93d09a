# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import (
    PACKAGE_FAMILIES,
    PACKAGE_FAMILY_TRAITS,
)
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError, describe

DOCUMENTATION = r'''
name: package_family_traits
short_description: What differs between the families of Docker packages beyond their names
version_added: 0.3.0
author: fleetsafe developers
description:
  - Returns how a family's packages behave - Debian's (V(debian)) or Docker's own repository's (V(docker-ce)) -
    from the one table the roles and modules read (C(PACKAGE_FAMILY_TRAITS) beside the package names).
  - Raises an error starting with C(package_family_traits) that names the value for a family that does not exist.
options:
  _input:
    description: The family.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Whether the engine package restarts dockerd itself on upgrade
  ansible.builtin.debug:
    msg: "{{ ('docker-ce' | fleetsafe.container_engine.package_family_traits).engine_restarted_by_package }}"  # true
'''

RETURN = r'''
_value:
  description: The family's traits.
  type: dict
  contains:
    engine_restarted_by_package:
      description: The engine package's postinst restarts dockerd on upgrade (docker-ce), or only starts it (docker.io).
      type: bool
    containerd_restarted_by_package:
      description: The containerd package's postinst restarts containerd on upgrade.
      type: bool
    cli_moves_with_engine:
      description: The engine depends on its CLI package and moves with it in one apt step.
      type: bool
    rootless_moves_with_engine:
      description: The rootless package carries the engine's version and moves with it.
      type: bool
    runc_package:
      description: The package that ships runc (C(runc), or C(containerd.io) itself).
      type: str
    units_dir:
      description: Where the packages put the docker and containerd systemd units.
      type: str
    rootless_script_dir:
      description:
        - Where the family puts C(dockerd-rootless.sh) and C(dockerd-rootless-setuptool.sh) - docker.io's
          C(/usr/share/docker.io/contrib) (not on C(PATH)), or C(/usr/bin) (docker-ce-rootless-extras).
      type: str
    rootless_script_package:
      description: The package that ships the rootless scripts (C(docker.io) itself, or C(docker-ce-rootless-extras)).
      type: str
'''


def _traits(family):
    if not isinstance(family, str) or family not in PACKAGE_FAMILY_TRAITS:
        raise InputError('%s is not a package family: give one of %s' % (
            describe(family), ', '.join(sorted(PACKAGE_FAMILIES))))
    return dict(PACKAGE_FAMILY_TRAITS[family])


package_family_traits = named_filter('package_family_traits', _traits)


class FilterModule:
    def filters(self):
        return {'package_family_traits': package_family_traits}
