"""Privacy effects for cameras: what to protect (`regions`), how (`anonymize`), and over time (`guard`).

Pure functions over numpy arrays (the guard keeps a little state between
frames); nothing here touches cameras or files.
"""

from .protection import (
    METHODS, anonymize, apply_protection, default_margin, default_strength, protect, protect_everything,
)
from .guard import GuardDecision, TemporalGuard
from .regions import FACE_KEYPOINTS, FACE_PARTS, TARGETS, face_region, person_region, protected_region

__all__ = [
    "anonymize", "apply_protection", "protect", "protect_everything", "default_strength", "default_margin",
    "METHODS",
    "TemporalGuard", "GuardDecision",
    "protected_region", "face_region", "person_region", "TARGETS", "FACE_PARTS", "FACE_KEYPOINTS",
]
