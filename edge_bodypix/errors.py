"""The few exception classes edge-bodypix raises.

Every error names what was wrong (the file, the parameter, the value) so a
device that nobody watches leaves a log line someone can act on.
"""

from __future__ import annotations


class EdgeBodyPixError(Exception):
    """Base class of every error raised by edge-bodypix."""


class InvalidParameterError(EdgeBodyPixError, ValueError):
    """A parameter or input image has a value outside what BodyPix accepts."""


class ModelNotFoundError(EdgeBodyPixError, FileNotFoundError):
    """No model file matches the request in any of the searched places."""


class ModelFormatError(EdgeBodyPixError):
    """A file is not a usable BodyPix model (not TFLite, truncated, wrong outputs, custom op)."""


class ModelIntegrityError(ModelFormatError):
    """A model file's sha256 differs from its catalogue entry or converter record (damaged or replaced)."""


class AcceleratorUnavailableError(EdgeBodyPixError):
    """The model needs hardware (an Edge TPU) or a library that is not present."""


class BackendUnavailableError(EdgeBodyPixError, ImportError):
    """No inference library (LiteRT, tflite-runtime, TensorFlow Lite) can be imported."""


class FetchError(EdgeBodyPixError):
    """A model download or checksum verification failed."""
