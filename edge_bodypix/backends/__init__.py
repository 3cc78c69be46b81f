"""Inference backends: each runs a BodyPix network and returns its raw outputs by role."""

from .base import Backend, RawOutputs
from .roles import ROLES, OutputSlot, map_output_roles

__all__ = ["Backend", "RawOutputs", "ROLES", "OutputSlot", "map_output_roles"]
