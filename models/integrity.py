"""Is a model file the one its catalogue entry or converter sidecar describes?

A privacy camera that runs a damaged or swapped network protects nothing and
says nothing (1% of random weight bytes: every face left sharp), so the
runtime checks the file's sha256 before it is loaded, against the catalogue
(downloaded models) or the hash the converter wrote into `<name>.meta.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from edge_bodypix.errors import ModelIntegrityError

from .fetch import sha256_file
from .store import ResolvedModel


@dataclass(frozen=True)
class Integrity:
    """Outcome of `check_integrity`: "ok" (hash matches) or "unverified" (nothing to compare with)."""

    status: str
    expected: Optional[str]
    source: str  # "catalogue", "metadata" or "none"


def expected_sha256(model: ResolvedModel) -> "tuple[Optional[str], str]":
    """The hash a model file must have, and where it comes from."""
    if model.spec is not None and model.spec.sha256 and model.spec.format != "tfjs":
        return model.spec.sha256.lower(), "catalogue"
    recorded = model.metadata.get("sha256")
    if isinstance(recorded, str) and recorded:
        return recorded.lower(), "metadata"
    return None, "none"


def repair_hint(model: ResolvedModel) -> str:
    if model.spec is not None and model.spec.url:
        return f"edge-bodypix models fetch --force {model.spec.name}"
    if model.spec is not None:
        return model.spec.fetch_command
    return "convert it again"


def check_integrity(model: ResolvedModel, require: bool = False) -> Integrity:
    """Raise `ModelIntegrityError` if the file's sha256 differs from the known one.

    With `require` (the daemon), a model with no known hash is refused too.
    """
    expected, source = expected_sha256(model)
    if expected is None:
        if require:
            raise ModelIntegrityError(
                f"{model.path}: no checksum is known for this model (not in the catalogue, no sha256 in its "
                f".meta.json), so it cannot be trusted for privacy; use a catalogue model or one made by "
                f"'edge-bodypix convert', or set model.verify = false to accept it unchecked")
        return Integrity("unverified", None, source)
    actual = sha256_file(model.path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{model.path}: sha256 {actual} does not match the {source}'s {expected}; the file is damaged "
            f"or was replaced. Restore it with: {repair_hint(model)}")
    return Integrity("ok", expected, source)
