# Private to the fleetsafe.container_engine collection: imported only by its own plugins and tests.
# Not a public API; it may change in any release.
#
# Copyright: fleetsafe developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version strings as Docker, containerd and Debian print them.

Three schemes:

* upstream versions as programs report them, with whatever the packager appended:
  ``20.10.24+dfsg1``, ``5:28.0.1-1~debian.12~bookworm``, ``2.1.9+unknown``, ``1.7.24~ds1``,
  ``v1.32``, ``17.03.1-ce``, ``29.0.0-rc.1``.  Only the dotted release and a pre-release tag count.
* Docker API versions, ``MAJOR.MINOR`` (``1.41``), compared numerically (``1.9 < 1.10``).
* Debian package versions, compared with dpkg's algorithm (``[epoch:]upstream[-revision]``,
  ``~`` sorts before everything, even the end of the string).

Everything here is pure Python (stdlib only, and the package-family table of module_utils/_parse.py) so it
runs under ansible-test's import sanity test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from ansible_collections.fleetsafe.container_engine.plugins.module_utils._parse import PACKAGE_FAMILIES

__all__ = [
    'InputError',
    'describe',
    'kind',
    'Version',
    'Spec',
    'parse_version',
    'parse_api',
    'format_api',
    'parse_spec',
    'debian_compare',
    'compare',
    'PACKAGE_FAMILIES',
    'version_family',
    'check_package_version',
]


class InputError(ValueError):
    """Bad input to a filter: the message names the bad value and never needs a traceback."""


_PRE_ORDER = {'dev': 0, 'alpha': 1, 'a': 1, 'beta': 2, 'b': 2, 'pre': 3, 'rc': 3}

_UPSTREAM_RE = re.compile(
    r'^(?:\d+:)?'                      # Debian epoch (5:28.0.1-1~debian.12~bookworm)
    r'[vV]?'                           # v1.32, v2.1.9
    r'(?P<release>\d+(?:\.\d+)*)'      # the dotted release
    r'(?:[-~.]?(?P<pre>dev|alpha|beta|pre|rc|a|b)[.-]?(?P<prenum>\d*)(?![A-Za-z]))?'
    r'(?P<rest>(?:[-+~][-+~._:A-Za-z0-9]*)?)$'   # +dfsg1, ~ds1, -1+deb12u1+b6, +unknown, -ce, -alpine
)   # a suffix starts with - + or ~: "26.1.5garbage" or "28.0.1.x" is not read as 26.1.5 / 28.0.1
_API_RE = re.compile(r'^[vV]?(\d+)\.(\d+)$')
_MAX_LEN = 256


class Version:
    """An upstream version: the dotted release plus an optional pre-release tag.

    Ordering pads the release with zeros (``28.0 == 28.0.0``) and puts a pre-release before its
    release (``29.0.0-rc.1 < 29.0.0``).  Packaging suffixes are kept in ``raw`` only.
    """

    __slots__ = ('raw', 'release', 'pre', 'key', 'line')

    def __init__(self, raw, release, pre=None):
        self.raw = raw
        self.release = release
        self.pre = pre
        padded = release + (0,) * (6 - len(release))
        self.key = (padded, (0,) + pre if pre else (1, 0, 0))
        # ``(major, minor)``: the release line (``20.10``, ``2.1``)
        self.line = (release + (0,))[:2]

    @property
    def base(self):
        """The release as ``X.Y.Z`` without packaging suffixes."""
        return '.'.join(str(part) for part in self.release)

    def __eq__(self, other):
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __lt__(self, other):
        return self.key < other.key

    def __le__(self, other):
        return self.key <= other.key

    def __gt__(self, other):
        return self.key > other.key

    def __ge__(self, other):
        return self.key >= other.key

    def __repr__(self):
        return 'Version(%r)' % self.raw

    def __str__(self):
        return self.raw


def kind(value):
    """The YAML name of a value's type (Ansible's tagged strings and numbers are still strings and numbers)."""
    if value is None:
        return 'null'
    for types, name in ((bool, 'boolean'), (str, 'string'), (int, 'integer'), (float, 'float'),
                        (Mapping, 'dict'), ((list, tuple), 'list')):
        if isinstance(value, types):
            return name
    return type(value).__name__


def _plain(value):
    """The value with Ansible's data tags dropped, so that repr shows it as the user wrote it."""
    if isinstance(value, bool) or value is None:
        return value
    for base in (str, int, float):
        if isinstance(value, base):
            return base(value)
    if isinstance(value, Mapping):
        return {_plain(k): '...' if isinstance(v, Mapping) and not isinstance(v, dict) else _plain(v)
                for k, v in list(value.items())[:20]}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def describe(value, limit=80):
    """A short, readable rendering of a bad value for an error message."""
    try:
        text = repr(_plain(value))
    except Exception:  # pylint: disable=broad-exception-caught  # a value whose repr fails is still reported
        text = '<%s>' % kind(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


_describe = describe


def is_undefined(value):
    """True for a Jinja undefined (an unset variable) that reached a filter as a value."""
    try:
        from jinja2 import Undefined   # pylint: disable=import-outside-toplevel  # controller side only
    except ImportError:                 # pragma: no cover - module_utils on a host without Jinja
        return False
    return isinstance(value, Undefined)


def got(value):
    """What an error says it got: ``null``, ``an undefined value``, or the value's type and the value as written
    (``string 'abc'``, ``list [1, 2]``), shortened."""
    if value is None:
        return 'null'
    if is_undefined(value):
        hint = getattr(value, '_undefined_name', None)
        return 'an undefined value%s' % (' (%s is not set)' % hint if hint else '')
    return '%s %s' % (kind(value), describe(value))


@lru_cache(maxsize=8192)
def _parse_version_str(text):
    match = _UPSTREAM_RE.match(text)
    if not match:
        return None
    release = tuple(int(part) for part in match.group('release').split('.'))
    if len(release) > 6:
        return None
    pre = None
    if match.group('pre'):
        pre = (_PRE_ORDER[match.group('pre')], int(match.group('prenum') or 0))
    return Version(text, release, pre)


def parse_version(value, what='version'):
    """Parse an upstream version string; raise InputError naming ``what`` and the value."""
    if not isinstance(value, str) or isinstance(value, bool):
        raise InputError('%s must be a version string, got %s' % (what, got(value)))
    text = value.strip()
    if not text or len(text) > _MAX_LEN:
        raise InputError('%s is not a version: %s' % (what, _describe(value)))
    parsed = _parse_version_str(text)
    if parsed is None:
        raise InputError('%s is not a version: %s' % (what, _describe(value)))
    return parsed


@lru_cache(maxsize=1024)
def _parse_api_str(text):
    match = _API_RE.match(text)
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)))


def parse_api(value, what='API version'):
    """Parse a Docker API version (``1.41`` or ``v1.41``) into ``(1, 41)``.

    Floats are refused: ``1.4`` and ``1.40`` would be the same float.
    """
    if not isinstance(value, str):
        raise InputError('%s must be a string like "1.41", got %s' % (what, got(value)))
    parsed = _parse_api_str(value.strip()) if len(value) <= _MAX_LEN else None
    if parsed is None:
        raise InputError('%s is not an API version like "1.41": %s' % (what, _describe(value)))
    return parsed


def format_api(api):
    """``(1, 41)`` -> ``'1.41'``."""
    return '%d.%d' % api


# ---------------------------------------------------------------------------------------------
# Specifiers: ">=1.12.0,<=1.14.0", "==28.0.0", "*"

_SPEC_RE = re.compile(r'^\s*(==|!=|>=|<=|>|<)\s*(\S+)\s*$')
_OPS = {
    '==': lambda a, b: a == b,
    '!=': lambda a, b: a != b,
    '>=': lambda a, b: a >= b,
    '<=': lambda a, b: a <= b,
    '>': lambda a, b: a > b,
    '<': lambda a, b: a < b,
}


class Spec:
    """A conjunction of comparisons against upstream versions."""

    __slots__ = ('text', 'clauses', '_seen')

    def __init__(self, text, clauses):
        self.text = text
        self.clauses = clauses
        self._seen = {}  # version key -> contains(): a fleet asks about the same few versions again and again

    def contains(self, version):
        try:
            return self._seen[version.key]
        except KeyError:
            pass
        found = all(_OPS[op](version, bound) for op, bound in self.clauses)
        if len(self._seen) < 4096:
            self._seen[version.key] = found
        return found

    def lower_bound(self):
        """The version given by the last ``>=`` / ``==`` clause, or None."""
        found = None
        for op, bound in self.clauses:
            if op in ('>=', '=='):
                found = bound
        return found

    def entirely_below(self, version):
        """True when every version the spec contains is lower than ``version`` (a ``<`` / ``<=`` bound)."""
        for op, bound in self.clauses:
            if (op == '<' and bound <= version) or (op in ('<=', '==') and bound < version):
                return True
        return False

    def reaches(self, prefix):
        """Does the spec hold a release that starts with the release tuple ``prefix`` ((3,) -> any 3.x.y, (3, 6) ->
        any 3.6.x)?  ``!=`` clauses are not taken into account (a range minus one release still reaches)."""
        low, low_open = Version('', tuple(prefix)), False
        high, high_open = Version('', tuple(prefix[:-1]) + (prefix[-1] + 1,)), True
        for op, bound in self.clauses:
            if op in ('>=', '==') and bound > low or op == '>' and bound >= low:
                low, low_open = bound, op == '>'
            if op in ('<=', '==') and bound < high or op == '<' and bound <= high:
                high, high_open = bound, op == '<'
        return low < high or (low == high and not low_open and not high_open)

    def __repr__(self):
        return 'Spec(%r)' % self.text


@lru_cache(maxsize=1024)
def _parse_spec_str(text):
    if text.strip() == '*':
        return Spec(text, ())
    clauses = []
    for part in text.split(','):
        match = _SPEC_RE.match(part)
        if not match:
            return None
        bound = _parse_version_str(match.group(2))
        if bound is None:
            return None
        clauses.append((match.group(1), bound))
    return Spec(text, tuple(clauses))


def parse_spec(value, what='version range'):
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_LEN:
        raise InputError('%s must be a string like ">=1.12.0,<1.14.1", got %s' % (what, _describe(value)))
    spec = _parse_spec_str(value)
    if spec is None:
        raise InputError('%s is not a version range like ">=1.12.0,<1.14.1": %s' % (what, _describe(value)))
    return spec


_LOWEST = Version("0", (0,))


def merge_ranges(texts):
    """Version ranges with adjacent ones joined, in order of their lower bound: ``>=20.10.0,<23.0.0`` and
    ``>=23.0.0,<24.0.0`` become ``>=20.10.0,<24.0.0``.  Two ranges are adjacent when one ends with ``<X`` and the
    next starts with ``>=X``; anything else is kept as it is."""
    specs = []
    for text in texts:
        spec = parse_spec(text)
        parts = [part.strip() for part in text.split(',')] if spec.clauses else []   # '*' has no clause
        specs.append([(op, bound, part) for (op, bound), part in zip(spec.clauses, parts, strict=True)])
    specs.sort(key=lambda clauses: min((c[1] for c in clauses if c[0] in ('>=', '==')), default=_LOWEST))
    merged = []
    for clauses in specs:
        if merged:
            last = merged[-1]
            upper = [c for c in last if c[0] == '<']
            lower = [c for c in clauses if c[0] == '>=']
            if len(upper) == 1 and len(lower) == 1 and upper[0][1] == lower[0][1]:
                merged[-1] = [c for c in last if c is not upper[0]] + [c for c in clauses if c is not lower[0]]
                continue
        merged.append(clauses)
    return [','.join(part for _op, _bound, part in clauses) if clauses else '*' for clauses in merged]


# ---------------------------------------------------------------------------------------------
# Debian package versions (deb-version(7), dpkg lib/dpkg/version.c verrevcmp)

_DIGITS = frozenset('0123456789')
_LETTERS = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')
_DEB_RE = re.compile(
    r'^(?:(?P<epoch>\d+):)?'
    r'(?P<upstream>\d[A-Za-z0-9.+~:-]*?)'
    r'(?:-(?P<revision>[A-Za-z0-9.+~]+))?$'
)


def _order(char):
    if char in _DIGITS:
        return 0
    if char in _LETTERS:
        return ord(char)
    if char == '~':
        return -1
    return ord(char) + 256


def _verrevcmp(left, right):
    """dpkg's verrevcmp: alternate non-digit runs (by _order) and digit runs (numerically)."""
    i = j = 0
    len_l, len_r = len(left), len(right)
    while i < len_l or j < len_r:
        first_diff = 0
        while (i < len_l and left[i] not in _DIGITS) or (j < len_r and right[j] not in _DIGITS):
            lc = _order(left[i]) if i < len_l else 0
            rc = _order(right[j]) if j < len_r else 0
            if lc != rc:
                return lc - rc
            i += 1
            j += 1
        while i < len_l and left[i] == '0':
            i += 1
        while j < len_r and right[j] == '0':
            j += 1
        while i < len_l and left[i] in _DIGITS and j < len_r and right[j] in _DIGITS:
            if not first_diff:
                first_diff = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len_l and left[i] in _DIGITS:
            return 1
        if j < len_r and right[j] in _DIGITS:
            return -1
        if first_diff:
            return first_diff
    return 0


@lru_cache(maxsize=4096)
def _parse_debian_str(text):
    match = _DEB_RE.match(text)
    if not match or text.endswith('-'):
        return None
    upstream = match.group('upstream')
    if ':' in upstream and match.group('epoch') is None:
        return None
    return (int(match.group('epoch') or 0), upstream, match.group('revision') or '')


def parse_debian(value, what='package version'):
    if not isinstance(value, str) or len(value) > _MAX_LEN:
        raise InputError('%s must be a Debian version string, got %s' % (what, _describe(value)))
    parsed = _parse_debian_str(value.strip())
    if parsed is None:
        raise InputError('%s is not a Debian package version: %s' % (what, _describe(value)))
    return parsed


def debian_compare(left, right):
    """Compare two Debian package versions like ``dpkg --compare-versions``: -1, 0 or 1."""
    epoch_l, up_l, rev_l = parse_debian(left, 'first package version')
    epoch_r, up_r, rev_r = parse_debian(right, 'second package version')
    if epoch_l != epoch_r:
        return -1 if epoch_l < epoch_r else 1
    result = _verrevcmp(up_l, up_r) or _verrevcmp(rev_l, rev_r)
    return (result > 0) - (result < 0)


def compare(left, right, scheme='upstream'):
    """Compare two versions under ``scheme`` (upstream, api, debian): -1, 0 or 1."""
    if scheme == 'debian':
        return debian_compare(left, right)
    if scheme == 'api':
        a, b = parse_api(left, 'first API version'), parse_api(right, 'second API version')
    elif scheme == 'upstream':
        a, b = parse_version(left, 'first version'), parse_version(right, 'second version')
    else:
        raise InputError('scheme must be one of upstream, api, debian, got %s' % _describe(scheme))
    return (a > b) - (a < b)


# ---------------------------------------------------------------------------------------------
# Package families: Debian's packages and Docker's, and whose version a pinned version string is

_FAMILY_EXAMPLES = {
    ('debian', 'containerd'): '1.7.24~ds1-6+deb13u1', ('docker-ce', 'containerd'): '1.7.24-1',
    ('debian', 'engine'): '26.1.5+dfsg1-9+deb13u1', ('docker-ce', 'engine'): '5:26.1.5-1~debian.12~bookworm',
}
# 1~debian.12~bookworm, 0~debian-bullseye
_DOCKER_REVISION = re.compile(r'^\d+~(?:debian|ubuntu|raspbian)[.-]')
# 1, 1~debian.12~bookworm
_CONTAINERD_IO_REVISION = re.compile(r'^\d+(?:~(?:debian|ubuntu|raspbian)\.[\d.]+~[a-z]+)?$')
_DEBIAN_UPSTREAM = re.compile(r'[+~](?:dfsg|ds)\d*')                  # the repacked sources: +dfsg1, ~ds1, +ds1
_DEBIAN_REVISION = re.compile(r'(?:deb\d+u\d+|\+b\d+$|\dubuntu\d)')   # +deb12u1, +b6 (binNMU), 0ubuntu1


def version_family(version, component='engine'):
    """Whose package VERSION is a version of: ``'docker-ce'`` (Docker's repository: the epoch 5 of docker-ce,
    docker-ce-cli and the rootless extras, ``-1~debian.12~bookworm`` / ``~3-0~debian-bullseye`` revisions, a
    containerd.io revision ``-1``), ``'debian'`` (Debian's or Ubuntu's archive: repacked sources ``+dfsg1`` /
    ``~ds1``, ``+deb12u1``, binNMU ``+b6``, ``0ubuntu1`` revisions) or None when it shows neither (an upstream
    version such as ``26.1.5``, a package of one's own)."""
    epoch, upstream, revision = parse_debian(version)
    if component == 'containerd':
        docker = bool(_CONTAINERD_IO_REVISION.match(revision)) and not _DEBIAN_UPSTREAM.search(upstream)
    else:
        docker = epoch == 5 or bool(_DOCKER_REVISION.match(revision))
    debian = bool(_DEBIAN_UPSTREAM.search(upstream) or _DEBIAN_REVISION.search(revision))
    if docker == debian:
        return None
    return 'docker-ce' if docker else 'debian'


def check_package_version(version, family, component='engine', what=None):
    """VERSION as given, when it can be a version of FAMILY's COMPONENT package; InputError naming the value
    otherwise: a family that does not exist, a value that is not a Debian package version, or a version of the
    other family's package (``26.1.5+dfsg1-9+deb13u1`` asked of docker-ce, ``5:26.1.5-1~debian.12~bookworm`` of
    Debian's). The one check the roles and filters make before anything changes on a host."""
    if not isinstance(family, str) or family not in PACKAGE_FAMILIES:
        raise InputError('package family %s does not exist: choose one of %s'
                         % (describe(family), ', '.join(sorted(PACKAGE_FAMILIES))))
    if component not in PACKAGE_FAMILIES[family]:
        raise InputError('component %s is none of %s' % (describe(component), ', '.join(PACKAGE_FAMILIES[family])))
    package = PACKAGE_FAMILIES[family][component]
    what = what or '%s version' % package
    if not isinstance(version, str) or isinstance(version, bool) or not version.strip():
        raise InputError('%s must be a package version string, got %s %s' % (what, kind(version), describe(version)))
    parse_debian(version, what)
    found = version_family(version.strip(), component)
    if found is not None and found != family:
        other = PACKAGE_FAMILIES[found][component]
        example = _FAMILY_EXAMPLES.get((family, 'containerd' if component == 'containerd' else 'engine'))
        raise InputError('%s %s is a version of %s package %s, not of %s package %s (whose versions look like %s): '
                         'give a version of %s or choose the package family %s'
                         % (what, describe(version), _OWNER[found], other, _OWNER[family], package, example,
                            package, found))
    return version


_OWNER = {'debian': "Debian's", 'docker-ce': "Docker's"}
