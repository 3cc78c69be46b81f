"""Inference backends: each runs a BodyPix network and returns its raw outputs by role.

One folder per backend (`tflite/`, `onnxruntime/`), each with a `SPEC`; the
registry below is where they are made known. A new backend is one folder
and one line here (or one `register` call in the application that brings it).
"""

from . import onnxruntime, tflite
from .base import Backend, RawOutputs
from .registry import BackendSpec, BuildOptions, backend_spec, backend_specs, register
from .roles import ROLES, OutputSlot, map_output_roles

register(tflite.SPEC)
register(onnxruntime.SPEC)

__all__ = ["Backend", "RawOutputs", "ROLES", "OutputSlot", "map_output_roles", "BackendSpec", "BuildOptions",
           "backend_spec", "backend_specs", "register"]
