"""The privacy effects by name: one vocabulary for the library, the command line and the daemon.

An effect is a method (`protection.METHODS`: blur, pixelate, fill) applied to
a target (`regions.TARGETS`: faces, persons, background), named
"<method>-<target>" everywhere ("pixelate-persons", "blur-background").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from ..errors import InvalidParameterError
from .protection import METHODS
from .regions import TARGETS


@dataclass(frozen=True)
class PrivacyEffect:
    """What a named effect protects (`target`) and how (`method`)."""

    name: str
    target: str
    method: str


#: Every effect, by name, in a stable order (faces first: the default).
PRIVACY_EFFECTS: Dict[str, PrivacyEffect] = {
    f"{method}-{target}": PrivacyEffect(f"{method}-{target}", target, method)
    for target in TARGETS for method in METHODS
}


def privacy_effect(name: str) -> PrivacyEffect:
    """The effect called `name`, or a named error listing the effects there are."""
    try:
        return PRIVACY_EFFECTS[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"effect {name!r} is not one of {', '.join(PRIVACY_EFFECTS)}") from None
