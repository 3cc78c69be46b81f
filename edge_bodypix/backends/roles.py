"""Which model output holds which BodyPix tensor, from output names, channel counts or metadata.

The Coral models call them `float_segments`, ..., ONNX exports `segments`, tfjs
graphs `float_segments` or `.../displacement_fwd_2/BiasAdd`, and int8
conversions may rename them all; an explicit map in the model's metadata wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence, Tuple

from ..errors import ModelFormatError

#: BodyPix output roles and their channel counts.
ROLES: Dict[str, int] = {
    "segments": 1,
    "part_heatmaps": 24,
    "heatmaps": 17,
    "short_offsets": 34,
    "long_offsets": 34,
    "displacement_fwd": 32,
    "displacement_bwd": 32,
    "part_offsets": 48,
}
REQUIRED_ROLES = ("segments", "part_heatmaps")

# Name patterns, most specific first. `mid_offsets` (Coral) holds fwd in 0:32 and bwd in 32:64.
_NAME_PATTERNS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = tuple(
    (role, re.compile(pattern))
    for role, pattern in (
        ("part_heatmaps", r"part_heatmaps?"),
        ("part_offsets", r"part_offsets?"),
        ("heatmaps", r"heatmaps?"),
        ("short_offsets", r"short_offsets?"),
        ("long_offsets", r"long_offsets?"),
        ("mid_offsets", r"mid_offsets?"),
        ("displacement_fwd", r"displacement_fwd"),
        ("displacement_bwd", r"displacement_bwd"),
        ("segments", r"segments?"),
    )
)
# Channel counts that identify a role on their own.
_UNIQUE_CHANNELS = {1: "segments", 24: "part_heatmaps", 17: "heatmaps", 64: "mid_offsets", 48: "part_offsets"}


@dataclass(frozen=True)
class OutputSlot:
    """Output tensor `index` (position in the model's output list) and its channel range for a role."""

    index: int
    start: int
    stop: int


def _expand(role: str, index: int, channels: int) -> Dict[str, OutputSlot]:
    if role == "mid_offsets":
        half = channels // 2
        return {
            "displacement_fwd": OutputSlot(index, 0, half),
            "displacement_bwd": OutputSlot(index, half, channels),
        }
    return {role: OutputSlot(index, 0, channels)}


def map_output_roles(
    outputs: Sequence[Tuple[str, Sequence[int]]],
    explicit: Optional[Mapping[str, str]] = None,
    model_name: str = "model",
) -> Dict[str, OutputSlot]:
    """Map roles to output slots from (name, NHWC shape) pairs.

    `explicit` maps role (or `mid_offsets`) to output name and takes precedence.
    Raises `ModelFormatError` naming the model when a required role is missing
    or a channel count is wrong.
    """
    names = [name for name, _ in outputs]
    channels = [int(shape[-1]) if len(shape) else 0 for _, shape in outputs]
    slots: Dict[str, OutputSlot] = {}
    used = set()
    for role, name in (explicit or {}).items():
        if name not in names:
            raise ModelFormatError(
                f"{model_name}: metadata maps {role!r} to output {name!r}, "
                f"but the outputs are {', '.join(names)}"
            )
        index = names.index(name)
        slots.update(_expand(role, index, channels[index]))
        used.add(index)
    for index, name in enumerate(names):
        if index in used:
            continue
        lowered = name.lower()
        for role, pattern in _NAME_PATTERNS:
            if pattern.search(lowered):
                expanded = _expand(role, index, channels[index])
                if not any(key in slots for key in expanded):
                    slots.update(expanded)
                    used.add(index)
                break
    for index, count in enumerate(channels):
        role = _UNIQUE_CHANNELS.get(count)
        if index in used or role is None:
            continue
        expanded = _expand(role, index, count)
        if not any(key in slots for key in expanded):
            slots.update(expanded)
            used.add(index)
    described = ", ".join(f"{n} ({c} ch)" for n, c in zip(names, channels))
    missing = [role for role in REQUIRED_ROLES if role not in slots]
    if missing:
        raise ModelFormatError(
            f"{model_name}: not a BodyPix model: no {' or '.join(missing)} output among {described}"
        )
    for role, slot in slots.items():
        width = slot.stop - slot.start
        if width != ROLES[role]:
            raise ModelFormatError(
                f"{model_name}: output {names[slot.index]!r} taken as {role} has {width} channels, "
                f"BodyPix's has {ROLES[role]}"
            )
    return slots
