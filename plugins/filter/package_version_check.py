# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._filters import named_filter
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import check_package_version

DOCUMENTATION = r'''
name: package_version_check
short_description: A pinned package version, checked against the package family it is asked of
version_added: 0.1.0
author: fleetsafe developers
description:
  - Returns the version unchanged when it can be a version of the package family's package for the component
    (the engine, its CLI, containerd, the rootless helpers).
  - The families are V(debian) (Debian's C(docker.io), C(docker-cli), C(containerd), C(rootlesskit)) and
    V(docker-ce) (Docker's C(docker-ce), C(docker-ce-cli), C(containerd.io), C(docker-ce-rootless-extras)).
  - Raises an error starting with C(package_version_check) that names the value for a family that does not exist,
    a value that is not a Debian package version, or a version of the other family's package - Debian's repacked
    C(26.1.5+dfsg1-9+deb13u1) asked of docker-ce, Docker's C(5:26.1.5-1~debian.12~bookworm) or C(1.7.24-1) asked of
    Debian's. Call it before anything changes on a host.
  - A version that shows neither family's marks (an upstream C(26.1.5), a package of your own) is accepted.
options:
  _input:
    description: The pinned package version.
    type: str
    required: true
  family:
    description: The package family the version is asked of.
    type: str
    required: true
    choices: [debian, docker-ce]
  component:
    description: Which package of the family.
    type: str
    default: engine
    choices: [engine, cli, containerd, rootless]
  what:
    description: How the error names the value (the variable's name, say); the package's name when omitted.
    type: str
'''

EXAMPLES = r'''
- name: Refuse a Debian version asked of Docker's packages before anything changes
  ansible.builtin.set_fact:
    __my_engine_pin: "{{ docker_engine_version | fleetsafe.container_engine.package_version_check(
                           docker_engine_package_family, 'engine', what='docker_engine_version') }}"
# '26.1.5+dfsg1-9+deb13u1' | package_version_check('docker-ce') fails:
# package_version_check: docker-ce version '26.1.5+dfsg1-9+deb13u1' is a version of Debian's package docker.io, ...
'''

RETURN = r'''
_value:
  description: The version, unchanged.
  type: str
'''


package_version_check = named_filter('package_version_check', check_package_version)


class FilterModule:
    def filters(self):
        return {'package_version_check': package_version_check}
