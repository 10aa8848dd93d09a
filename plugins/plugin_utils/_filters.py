# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private: shared by this collection's filter plugins; not a public API.
"""One way for every filter to fail: a single AnsibleFilterError whose message starts with its name."""

from __future__ import annotations

import functools

from ansible.errors import AnsibleFilterError


def named_filter(name, func):
    """Wrap func so that bad input of any kind ends as AnsibleFilterError('NAME: ...'), never a traceback."""
    prefix = name + ': '

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AnsibleFilterError as exc:
            if str(exc).startswith(prefix):
                raise
            raise AnsibleFilterError(prefix + str(exc)) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught  # InputError, and a wrong call
            raise AnsibleFilterError(prefix + str(exc)) from exc

    wrapper.__name__ = name
    return wrapper
