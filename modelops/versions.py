"""Semantic versions of models: parsing, canonical form and ordering.

The registry (latest version), the CLI, the operator (stable/failed versions) and the CRD schema
(`SEMVER_PATTERN`) all agree on what a model version is through this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

SEMVER_PATTERN = (
    r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_SEMVER = re.compile(SEMVER_PATTERN)


class InvalidVersionError(ValueError):
    """A string that is not a semantic version such as `v1.2.3` or `v1.2.3-rc.1`."""


def _prerelease_key(part: str) -> tuple[int, int, str]:
    # Numeric identifiers sort numerically and before alphanumeric ones (semver 2.0.0, item 11).
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A parsed version; `str()` gives the canonical `vMAJOR.MINOR.PATCH[-PRE]` form."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def __str__(self) -> str:
        core = f"v{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{'.'.join(self.prerelease)}" if self.prerelease else core

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        is_release = 0 if self.prerelease else 1
        pre = tuple(_prerelease_key(p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, is_release, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()


def parse_version(text: str) -> SemVer:
    """Parse `v1.2.3`, `1.2.3` or `v1.2.3-rc.1`; raise InvalidVersionError saying why not."""
    if not isinstance(text, str):
        raise InvalidVersionError(f"version must be a string, got {type(text).__name__}")
    match = _SEMVER.match(text.strip())
    if match is None:
        raise InvalidVersionError(
            f"invalid version {text!r}: expected semantic version like v1.2.3 or v1.2.3-rc.1 "
            "(no leading zeros, three numeric parts)"
        )
    major, minor, patch, pre = match.group(1, 2, 3, 4)
    prerelease = tuple(pre[1:].split(".")) if pre else ()
    return SemVer(int(major), int(minor), int(patch), prerelease)


def canonical(text: str) -> str:
    """The canonical spelling (`1.2.3` → `v1.2.3`) of a version string."""
    return str(parse_version(text))


def is_valid(text: str) -> bool:
    """True when `text` parses as a version."""
    try:
        parse_version(text)
    except InvalidVersionError:
        return False
    return True


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Versions in ascending semantic order, in their original spelling."""
    return sorted(versions, key=parse_version)


def latest(versions: Iterable[str]) -> str:
    """The highest version by semantic order (not the newest by time)."""
    ordered = sort_versions(versions)
    if not ordered:
        raise InvalidVersionError("no versions to choose the latest from")
    return ordered[-1]
