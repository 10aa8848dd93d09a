from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import (
    InputError,
    compare,
    debian_compare,
    parse_api,
    parse_spec,
    parse_version,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version as PepVersion

# Strings exactly as real tools printed them (lab, Debian archive, Docker's repository).
REAL_VERSIONS = [
    ('20.10.24+dfsg1', (20, 10, 24)),
    ('20.10.24+dfsg1-1+deb12u1+b6', (20, 10, 24)),
    ('5:28.0.1-1~debian.12~bookworm', (28, 0, 1)),
    ('2.1.9+unknown', (2, 1, 9)),
    ('1.7.24~ds1', (1, 7, 24)),
    ('1.7.24~ds1-6+deb13u1', (1, 7, 24)),
    ('v1.32', (1, 32)),
    ('17.03.1-ce', (17, 3, 1)),
    ('28.5.2+dfsg4-5', (28, 5, 2)),
    ('v2.11.30', (2, 11, 30)),
    ('1.81.0-alpine', (1, 81, 0)),
]


@pytest.mark.parametrize('text,release', REAL_VERSIONS)
def test_upstream_release_of_real_strings(text, release):
    assert parse_version(text).release == release


def test_packaging_suffixes_do_not_change_order():
    assert parse_version('20.10.24+dfsg1') == parse_version('20.10.24')
    assert parse_version('2.1.9+unknown') == parse_version('2.1.9')
    assert parse_version('5:28.0.1-1~debian.12~bookworm') > parse_version('28.0.0')
    assert parse_version('28.0') == parse_version('28.0.0')
    assert parse_version('1.7.24~ds1') < parse_version('2.1.9+unknown')


def test_prerelease_before_release():
    assert parse_version('29.0.0-rc.1') < parse_version('29.0.0-rc.2') < parse_version('29.0.0')
    assert parse_version('29.0.0~rc1') < parse_version('29.0.0')
    assert parse_version('2.0.0-beta.2') < parse_version('2.0.0-rc.1')


@given(st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4),
       st.lists(st.integers(min_value=0, max_value=999), min_size=1, max_size=4),
       st.sampled_from(['', 'rc1', 'b2', 'a3']), st.sampled_from(['', 'rc1', 'b2', 'a3']))
def test_upstream_order_agrees_with_packaging(left, right, pre_l, pre_r):
    """For strings PEP 440 also understands, both orderings must agree."""
    a = '.'.join(map(str, left)) + pre_l
    b = '.'.join(map(str, right)) + pre_r
    ours = compare(a, b)
    theirs = (PepVersion(a) > PepVersion(b)) - (PepVersion(a) < PepVersion(b))
    assert ours == theirs, (a, b)


def test_api_versions_compare_numerically():
    assert parse_api('1.41') == (1, 41)
    assert parse_api('v1.32') == (1, 32)
    assert parse_api('1.9') < parse_api('1.10')
    assert compare('1.9', '1.10', 'api') == -1


@pytest.mark.parametrize('bad', ['1', '1.41.0', 'latest', '', 'v', '1.4a'])
def test_bad_api_versions(bad):
    with pytest.raises(InputError, match='API version'):
        parse_api(bad)


def test_float_api_version_refused():
    with pytest.raises(InputError, match='float'):
        parse_api(1.4)


@pytest.mark.parametrize('bad', ['latest', '', 'abc', '1.2.3 4', None, 3, True])
def test_bad_upstream_versions_name_the_value(bad):
    with pytest.raises(InputError) as info:
        parse_version(bad, 'docker.version')
    assert 'docker.version' in str(info.value)


def test_spec():
    spec = parse_spec('>=1.12.0,<=1.14.0')
    assert spec.contains(parse_version('1.12.0'))
    assert spec.contains(parse_version('1.14.0'))
    assert not spec.contains(parse_version('1.14.1'))
    assert not spec.contains(parse_version('1.11.1'))
    assert spec.lower_bound() == parse_version('1.12.0')
    assert parse_spec('==28.0.0').contains(parse_version('28.0.0'))
    assert not parse_spec('==28.0.0').contains(parse_version('28.0.1'))
    with pytest.raises(InputError):
        parse_spec('~=1.0')


# --- Debian ordering -------------------------------------------------------------------------

# Pairs with dpkg's documented answers (deb-version(5): "~" sorts before anything, even the end).
DEBIAN_ORDER = [
    ('1.0~rc1', '1.0', -1),
    ('1.0', '1.0+b1', -1),
    ('1:0.1', '2.0', 1),
    ('1.0-1', '1.0-1', 0),
    ('1.0-1~bpo1', '1.0-1', -1),
    ('20.10.24+dfsg1-1+deb12u1+b6', '26.1.5+dfsg1-9+deb13u1', -1),
    ('26.1.5+dfsg1-9+deb13u1', '28.5.2+dfsg4-5', -1),
    ('5:28.0.0-1~debian.12~bookworm', '5:28.0.1-1~debian.12~bookworm', -1),
    ('1.7.24~ds1-6+deb13u1', '2.1.9+ds1-5', -1),
    ('1.6.20~ds1-1+deb12u3', '1.6.20~ds1-1+deb12u2', 1),
    ('1.10', '1.9', 1),
    ('1.0a', '1.0+', -1),
]


@pytest.mark.parametrize('left,right,expected', DEBIAN_ORDER)
def test_debian_order(left, right, expected):
    assert debian_compare(left, right) == expected
    swapped_left, swapped_right = right, left
    assert debian_compare(swapped_left, swapped_right) == -expected


DPKG = shutil.which('dpkg')
_deb_part = st.text(alphabet='0123456789.+~abz', min_size=0, max_size=6)


@st.composite
def debian_versions(draw):
    epoch = draw(st.sampled_from(['', '1:', '5:']))
    upstream = draw(st.integers(min_value=0, max_value=30)).__str__() + draw(_deb_part)
    revision = draw(st.one_of(st.just(''), _deb_part.filter(bool).map(lambda r: '-' + r)))
    if revision == '-':
        revision = ''
    return epoch + upstream + revision


@pytest.mark.skipif(DPKG is None, reason='dpkg is not installed')
@settings(max_examples=150, deadline=None)
@given(debian_versions(), debian_versions())
def test_debian_order_agrees_with_dpkg(left, right):
    """Cross-check with the real dpkg on this Debian machine."""
    ours = debian_compare(left, right)
    for op, expected in (('lt', ours < 0), ('eq', ours == 0), ('gt', ours > 0)):
        result = subprocess.run([DPKG, '--compare-versions', left, op, right], capture_output=True, check=False)
        assert (result.returncode == 0) == expected, (left, op, right, result.stderr)


@pytest.mark.parametrize('bad', ['', 'abc', '1.0-', ':1.0', 'a:1.0', '1:', '1.0 beta'])
def test_bad_debian_versions(bad):
    with pytest.raises(InputError):
        debian_compare(bad, '1.0')
