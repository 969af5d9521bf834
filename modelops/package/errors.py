"""Errors raised by the model package format.

Every failure in reading, verifying, signing or unpacking a model directory is a `PackageError`, so
callers (the inference server's verifier, `modelctl`, the registry) catch one class and show its message,
which always names the file and the check that failed.
"""

from __future__ import annotations


class PackageError(Exception):
    """Base class for every model-package failure; the message is meant for people."""


class MetadataError(PackageError):
    """metadata.json is missing, is not valid JSON, or lacks or mistypes a field."""


class ManifestError(PackageError):
    """manifest.json is missing or does not match the files (missing, extra or changed file)."""


class ArchiveError(PackageError):
    """A package archive is unreadable, unsafe (traversal, links, devices) or too large."""


class SignatureError(PackageError):
    """A model signature is missing, malformed or does not verify with the given public key."""
