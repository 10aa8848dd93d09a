"""nearest_tag: a tag derived from a version, clastix/kubectl:v1.32 (docs/incidents.md#unpublished-image-tag)."""
import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetsafe.container_engine.plugins.filter.nearest_tag import FilterModule
from hypothesis import given, settings
from hypothesis import strategies as st

nearest_tag = FilterModule().filters()["nearest_tag"]
PUBLISHED = ["v1.28", "v1.29", "v1.30", "v1.31", "latest", "v1.31.2", "1.33"]


def test_exact_tag_is_used_without_a_finding():
    assert nearest_tag("v1.31", PUBLISHED) == {
        "wanted": "v1.31", "tag": "v1.31", "exact": True, "fallback": False, "finding": None}


def test_missing_tag_falls_back_to_the_nearest_lower_of_the_same_form():
    r = nearest_tag("v1.32", PUBLISHED)
    # not v1.31.2 (other form), not 1.33 (no v prefix, and higher)
    assert (r["tag"], r["exact"], r["fallback"]) == ("v1.31", False, True)
    f = r["finding"]
    assert f["severity"] == "warning" and f["id"] == "image_tag_missing_fallback"
    assert "v1.32" in f["message"] and "v1.31" in f["remedy"]
    assert f["source"].endswith("capsule/issues/1324")


def test_numeric_not_lexical_order():
    assert nearest_tag("v1.10", ["v1.9", "v1.2", "v1.10.1"])["tag"] == "v1.9"


def test_no_fallback_allowed_is_a_blocker_that_names_the_candidate():
    r = nearest_tag("v1.32", PUBLISHED, allow_fallback=False)
    assert r["tag"] is None and r["finding"]["severity"] == "blocker"
    assert "v1.31" in r["finding"]["remedy"]


def test_nothing_older_is_a_blocker():
    r = nearest_tag("v1.27", PUBLISHED)
    assert r["tag"] is None and r["finding"]["id"] == "image_tag_missing"


def test_suffix_must_match():
    assert nearest_tag("1.36-alpine", ["1.35", "1.35-alpine", "1.37-alpine"])["tag"] == "1.35-alpine"


@pytest.mark.parametrize("args", [
    (None, PUBLISHED), ("", PUBLISHED), ("v1.32", "v1.31"), ("v1.32", [1, 2]), ("latest-x", []),
    ("v1.32", PUBLISHED, "yes"), ("v1.32",),
])
def test_bad_input_names_the_filter(args):
    with pytest.raises(AnsibleFilterError, match=r"^nearest_tag: "):
        nearest_tag(*args)


@settings(max_examples=300, deadline=None)
@given(wanted=st.one_of(st.none(), st.integers(), st.text(max_size=12)),
       available=st.one_of(st.none(), st.text(max_size=5),
                           st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=5)),
       allow=st.one_of(st.booleans(), st.none(), st.integers()))
def test_any_input_gives_a_choice_or_one_filter_error(wanted, available, allow):
    try:
        r = nearest_tag(wanted, available, allow)
    except AnsibleFilterError as e:
        assert str(e).startswith("nearest_tag: ")
        return
    assert r["tag"] is None or r["tag"] in available
    assert (r["finding"] is None) == r["exact"]


# compat_findings reads target.images: the registry's listing of each image the change needs
compat_findings = __import__(
    "ansible_collections.fleetsafe.container_engine.plugins.filter.compat_findings", fromlist=["FilterModule"]
).FilterModule().filters()["compat_findings"]


def test_compat_findings_reports_a_missing_image_tag():
    images = [{"image": "clastix/kubectl", "tag": "v1.32", "available": PUBLISHED},
              {"image": "clastix/kubectl", "tag": "v1.30", "available": PUBLISHED},
              {"image": "example/job", "tag": "v2.0", "available": ["v2.1"], "allow_fallback": False}]
    found = {f["id"]: f for f in compat_findings({}, {"images": images})}
    assert set(found) == {"image_tag_missing_fallback", "image_tag_missing"}
    assert found["image_tag_missing_fallback"]["message"].startswith("clastix/kubectl:v1.32 does not exist")
    assert found["image_tag_missing"]["severity"] == "blocker"
    assert found["image_tag_missing"]["message"].startswith("example/job:v2.0 does not exist")


@pytest.mark.parametrize("images", [
    "clastix/kubectl:v1.32", [{"image": "a/b", "tag": "v1"}], [{"image": "a/b", "tag": "v1", "available": "v1"}],
    [{"image": "a/b", "tag": "v1", "available": [], "colour": "red"}], [{"image": "a/b", "tag": "x", "available": []}],
])
def test_compat_findings_bad_images_target_names_the_filter(images):
    with pytest.raises(AnsibleFilterError, match=r"^compat_findings: .*images"):
        compat_findings({}, {"images": images})
