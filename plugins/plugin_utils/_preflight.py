# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What only the host can tell before a change, beyond its facts: the ``preflight`` argument of compat_findings and
upgrade_plan.

The upgrade role asks apt which versions its source offers and whether it can make each step's transaction (module
apt_resolve: apt-cache madison, apt-get --simulate) and docker whether the smoke image is there; the filters judge
those answers (findings ``apt_source_lacks_*``, ``apt_cannot_make_step``, ``smoke_image_missing``) and the plan
picks each step's package versions from them (module_utils' step_packages, the rule apt_resolve simulates with).
The role only passes the data.
"""

from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import PACKAGE_FAMILIES
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._facts import as_dict
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    describe,
    kind,
)

PREFLIGHT_KEYS = ('apt', 'smoke_image')
APT_KEYS = ('source', 'packages', 'offered', 'extra', 'moving', 'cannot_make', 'switch')
SWITCH_KEYS = ('from', 'to', 'packages', 'remove', 'lacking', 'plan')
CANNOT_MAKE_KEYS = ('action', 'component', 'from', 'to', 'moves', 'problems', 'in_the_way', 'output')
# the package family's table as module_utils' PACKAGE_FAMILIES names it (apt_resolve returns it as apt.packages)
PACKAGE_ROLES = tuple(PACKAGE_FAMILIES['debian'])


def _str(value, where):
    if not isinstance(value, str) or not value.strip():
        raise InputError('%s must be a non-empty string, got %s %s' % (where, kind(value), describe(value)))
    return value


def _keys(data, known, where):
    unknown = [k for k in data if k not in known]
    if unknown:
        raise InputError('%s has unknown key(s) %s (known: %s)' % (
            where, ', '.join(sorted(describe(k) for k in unknown)), ', '.join(known)))


def _apt(raw):
    where = 'preflight.apt'
    raw = as_dict(raw, where)
    _keys(raw, APT_KEYS, where)
    if raw.get('packages') is None or raw.get('offered') is None:
        raise InputError('%s needs packages (the package family\'s names: engine, cli, containerd) and offered '
                         '(package -> versions the source offers, newest first, as apt-cache madison lists them)'
                         % where)
    packages = as_dict(raw['packages'], where + '.packages')
    _keys(packages, PACKAGE_ROLES, where + '.packages')
    names = {}
    for role in PACKAGE_ROLES:
        if packages.get(role) not in (None, ''):
            names[role] = _str(packages[role], '%s.packages.%s' % (where, role))
    for role in ('engine', 'containerd'):
        if role not in names:
            raise InputError('%s.packages needs %s (the package that installs it, e.g. docker.io / containerd)' % (
                where, role))
    offered = {}
    for name, versions in as_dict(raw['offered'], where + '.offered').items():
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise InputError('%s.offered.%s must list package versions (strings), got %s' % (
                where, name, describe(versions)))
        offered[name] = list(versions)
    extra = {}
    for name, version in as_dict(raw.get('extra') or {}, where + '.extra').items():
        if version is None:
            version = ''
        if not isinstance(version, str):
            raise InputError('%s.extra.%s must be a package version or \'\' (the newest offered), got %s' % (
                where, name, describe(version)))
        extra[name] = version
    source = raw.get('source') or ''
    if not isinstance(source, str):
        raise InputError('%s.source must be the apt source line, got %s' % (where, describe(source)))
    # the packages that move with the engine on this host (module_utils' moving_with_engine); absent: none
    moving = _strings(raw.get('moving') or [], where + '.moving')
    cannot_make = _cannot_make(raw['cannot_make']) if raw.get('cannot_make') is not None else None
    switch = _switch(raw['switch']) if raw.get('switch') is not None else None
    return {'source': source.strip(), 'names': names, 'offered': offered, 'extra': extra, 'moving': moving,
            'cannot_make': cannot_make, 'switch': switch}


def _switch(raw):
    """A family switch's transaction (module apt_resolve's apt.switch): the families, the packages it installs
    (name -> version) and removes, the [package, release] pairs the source lacks and apt's plan of it."""
    where = 'preflight.apt.switch'
    raw = as_dict(raw, where)
    _keys(raw, SWITCH_KEYS, where)
    out = {'from': _str(raw.get('from'), where + '.from'), 'to': _str(raw.get('to'), where + '.to')}
    packages = as_dict(raw.get('packages') or {}, where + '.packages')
    if not all(isinstance(v, str) for v in packages.values()):
        raise InputError('%s.packages must map package names to versions, got %s' % (where, describe(packages)))
    out['packages'] = dict(packages)
    out['remove'] = _strings(raw.get('remove') or [], where + '.remove')
    out['plan'] = _strings(raw.get('plan') or [], where + '.plan')
    lacking = raw.get('lacking') or []
    if not isinstance(lacking, list) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
            for pair in lacking):
        raise InputError('%s.lacking must list [package, release] pairs, got %s' % (where, describe(lacking)))
    out['lacking'] = [tuple(pair) for pair in lacking]
    return out


def _strings(value, where):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError('%s must be a list of strings, got %s' % (where, describe(value)))
    return list(value)


def _cannot_make(raw):
    """The first step apt's simulation refused (module apt_resolve's apt.cannot_make): its action, component, from
    and to, the package moves asked (moves), the lines naming what is in the way (problems), those packages
    (in_the_way) and the end of apt's output."""
    where = 'preflight.apt.cannot_make'
    raw = as_dict(raw, where)
    _keys(raw, CANNOT_MAKE_KEYS, where)
    out = {'action': _str(raw.get('action'), where + '.action'),
           'component': _str(raw.get('component'), where + '.component'),
           'from': raw.get('from'), 'to': raw.get('to'), 'output': raw.get('output') or ''}
    for key in ('from', 'to', 'output'):
        if out[key] is not None and not isinstance(out[key], str):
            raise InputError('%s.%s must be a string, got %s' % (where, key, describe(out[key])))
    for key in ('moves', 'problems', 'in_the_way'):
        out[key] = _strings(raw.get(key) or [], '%s.%s' % (where, key))
    return out


def _smoke(raw):
    where = 'preflight.smoke_image'
    raw = as_dict(raw, where)
    _keys(raw, ('image', 'present'), where)
    image = _str(raw.get('image'), where + '.image')
    present = raw.get('present')
    if not isinstance(present, bool):
        raise InputError('%s.present must be true or false, got %s' % (where, describe(present)))
    return {'image': image, 'present': present}


def read_preflight(preflight):
    """{'apt': {...} or None, 'smoke_image': {...} or None} from the filters' preflight argument."""
    if preflight is None or preflight == {}:
        return {'apt': None, 'smoke_image': None}
    preflight = as_dict(preflight, 'preflight')
    _keys(preflight, PREFLIGHT_KEYS, 'preflight')
    return {'apt': _apt(preflight['apt']) if preflight.get('apt') is not None else None,
            'smoke_image': _smoke(preflight['smoke_image']) if preflight.get('smoke_image') is not None else None}


def offered_text(apt, package):
    return ', '.join(apt['offered'].get(package, [])) or 'none'
