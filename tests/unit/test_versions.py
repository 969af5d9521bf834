"""Semantic version parsing and ordering of model versions."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.versions import InvalidVersionError, canonical, latest, parse_version, sort_versions


def test_numeric_ordering_not_lexical() -> None:
    assert sort_versions(["v1.10.0", "v1.1.0", "v1.0.0", "v1.2.0"]) == [
        "v1.0.0",
        "v1.1.0",
        "v1.2.0",
        "v1.10.0",
    ]


def test_prerelease_sorts_before_release() -> None:
    ordered = sort_versions(["v1.0.0", "v1.0.0-rc.2", "v1.0.0-rc.10", "v1.0.0-alpha", "v0.9.9"])
    assert ordered == ["v0.9.9", "v1.0.0-alpha", "v1.0.0-rc.2", "v1.0.0-rc.10", "v1.0.0"]


def test_latest_is_highest_semver() -> None:
    assert latest(["v1.9.0", "v1.10.0", "v1.2.0"]) == "v1.10.0"


def test_latest_of_nothing_is_an_error() -> None:
    with pytest.raises(InvalidVersionError, match="no versions"):
        latest([])


def test_canonical_adds_v_prefix() -> None:
    assert canonical("1.2.3") == "v1.2.3"
    assert canonical("v1.2.3-rc.1") == "v1.2.3-rc.1"


@pytest.mark.parametrize("bad", ["", "v1", "v1.2", "1.2.3.4", "v01.2.3", "latest", "v1.2.3-", "vv1.2.3"])
def test_invalid_versions_are_rejected_with_reason(bad: str) -> None:
    with pytest.raises(InvalidVersionError, match="semantic version"):
        parse_version(bad)


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidVersionError, match="must be a string"):
        parse_version(123)  # type: ignore[arg-type]


versions = st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999))


@given(versions, versions)
def test_order_matches_tuple_order(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    va, vb = parse_version("v{}.{}.{}".format(*a)), parse_version("v{}.{}.{}".format(*b))
    assert (va < vb) == (a < b)
    assert (va == vb) == (a == b)


@given(versions)
def test_round_trip(parts: tuple[int, int, int]) -> None:
    text = "v{}.{}.{}".format(*parts)
    assert str(parse_version(text)) == text
