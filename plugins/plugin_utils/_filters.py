# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Private: shared by this collection's filter plugins; not a public API.
"""How every filter of the collection fails.

* Bad input (an InputError raised on purpose, or a call with the wrong arguments) ends as one
  AnsibleFilterError whose message starts with the filter's name and names the bad value.
* Ansible's own errors (an undefined variable in the arguments) pass through untouched.
* Anything else is a bug in the collection, not in the user's input: it ends as a
  FilterInternalError that says so and asks for a report, with the original exception chained.
"""

from __future__ import annotations

import functools
import inspect

from ansible.errors import AnsibleError, AnsibleFilterError

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import InputError

REPORT = ('this is a bug in the fleetsafe.container_engine collection, not in your input: please report it with '
          'this message and the filter\'s arguments')


class FilterInternalError(AnsibleError):
    """A filter failed because of a bug (never raised for bad input)."""


def named_filter(name, func):
    """Wrap func so that bad input ends as AnsibleFilterError('NAME: ...') and a bug as FilterInternalError."""
    prefix = name + ': '
    signature = inspect.signature(func)
    names = list(signature.parameters)
    required = [n for n, p in signature.parameters.items() if p.default is inspect.Parameter.empty]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        # a wrong call is the user's mistake: check it here, so that a TypeError from the code stays a bug
        if len(args) > len(names) or any(key not in names[len(args):] for key in kwargs) or \
                any(n not in kwargs for n in required[len(args):]):
            try:
                signature.bind(*args, **kwargs)
                problem = 'missing arguments'
            except TypeError as exc:
                problem = str(exc)
            raise AnsibleFilterError('%swrong arguments, it takes %s: %s' % (prefix, signature, problem)) \
                from InputError(problem)
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise AnsibleFilterError(prefix + str(exc)) from exc
        except AnsibleError:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught  # a bug: say so, never "bad input"
            raise FilterInternalError('%sinternal error (%s): %s: %s' % (
                prefix, REPORT, type(exc).__name__, exc)) from exc

    wrapper.__name__ = name
    return wrapper
