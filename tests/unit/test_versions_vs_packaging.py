"""The hand-written upstream Version / Spec (plugin_utils/_versions.py) weighed against `packaging` (PyPA's, already a
dependency of ansible-core on the controller), once the inputs are normalised.

Why the collection keeps its own (docs/knowledge_base.md, "Version strings"): Docker's and Debian's strings
(``5:28.0.1-1~debian.12~bookworm``, ``1.7.24~ds1``, ``17.03.1-ce``, ``v1.32``) are not PEP 440 versions and must be
normalised first whichever library compares them; the modules run on managed hosts, where `packaging` is not
promised; and one comparison for the controller and the hosts is one rule in one place.

What this test proves: on every normalised version (release of 1-4 parts, optional dev / alpha / beta / rc tag),
the two order versions alike, and a range contains the same versions in both, except for the one rule of PEP 440
the collection does not follow (asserted exactly, so a change either way is seen): PEP 440 leaves the
pre-releases of X out of ``<X`` and out of ``<=X``'s neighbour ranges when X is a final release, while here a
pre-release sorts before its release everywhere (``29.0.0-rc.1`` is in ``<29.0.0``).
"""
from __future__ import annotations

from ansible_collections.fleetsafe.container_engine.plugins.plugin_utils._versions import parse_spec, parse_version
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version as PyPAVersion

PRE = {"dev": ".dev", "alpha": "a", "beta": "b", "rc": "rc"}

releases = st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=4).map(tuple)
pres = st.one_of(st.none(), st.tuples(st.sampled_from(sorted(PRE)), st.integers(min_value=0, max_value=3)))


def docker_text(release, pre):
    """As Docker prints it: 29.0.0-rc.1, 26.1.0-beta.2."""
    text = ".".join(map(str, release))
    return text + (f"-{pre[0]}.{pre[1]}" if pre else "")


def pep440_text(release, pre):
    text = ".".join(map(str, release))
    return text + (f"{PRE[pre[0]]}{pre[1]}" if pre else "")


versions = st.tuples(releases, pres)


@settings(max_examples=400, deadline=None)
@given(versions, versions)
def test_the_two_order_every_normalised_version_alike(a, b):
    ours_a, ours_b = parse_version(docker_text(*a)), parse_version(docker_text(*b))
    theirs_a, theirs_b = PyPAVersion(pep440_text(*a)), PyPAVersion(pep440_text(*b))
    assert (ours_a < ours_b) == (theirs_a < theirs_b)
    assert (ours_a == ours_b) == (theirs_a == theirs_b)


ops = st.sampled_from([">=", "<=", ">", "<", "==", "!="])
finals = releases.map(lambda r: (r + (0, 0, 0))[:3])   # bounds as the knowledge base writes them: X.Y.Z


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(ops, finals), min_size=1, max_size=2), versions)
def test_a_range_holds_the_same_versions_but_for_pep440s_pre_release_rule(clauses, version):
    ours = parse_spec(",".join(f"{op}{'.'.join(map(str, b))}" for op, b in clauses))
    theirs = SpecifierSet(",".join(f"{op}{'.'.join(map(str, b))}" for op, b in clauses), prereleases=True)
    inside_ours = ours.contains(parse_version(docker_text(*version)))
    inside_theirs = theirs.contains(pep440_text(*version))
    release, pre = version
    # PEP 440: "<X" (X final) excludes X's own pre-releases, ">X" excludes X's post and local versions; this
    # collection sorts X's pre-releases just below X in every comparison. That is the only disagreement.
    pre_of_an_exclusive_upper_bound = pre is not None and any(
        op == "<" and (release + (0,) * 6)[:6] == (b + (0,) * 6)[:6] for op, b in clauses)
    if pre_of_an_exclusive_upper_bound:
        assert inside_ours and not inside_theirs or inside_ours == inside_theirs
    else:
        assert inside_ours == inside_theirs


def test_the_one_difference_on_a_real_row():
    # known_bad.yml / engines: a 29.0.0 release candidate against a range ending before 29.0.0
    spec, rc = ">=25.0.0,<29.0.0", "29.0.0-rc.1"
    assert parse_spec(spec).contains(parse_version(rc))
    assert not SpecifierSet(spec, prereleases=True).contains("29.0.0rc1")
