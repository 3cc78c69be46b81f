"""Coral Edge TPU: detection of compiled models and loading of the libedgetpu delegate.

All Edge TPU specifics live here. Google's pycoral is not needed: the
interpreter library's `load_delegate` with libedgetpu is all it takes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional

from ...errors import AcceleratorUnavailableError
from ...machine import read_text

EDGETPU_CUSTOM_OP = "edgetpu-custom-op"

#: libedgetpu's shared library name per operating system (`platform.system()`).
EDGETPU_LIBRARIES = {
    "Linux": "libedgetpu.so.1",
    "Darwin": "libedgetpu.1.dylib",
    "Windows": "edgetpu.dll",
}


def is_edgetpu_model(custom_ops: Iterable[str]) -> bool:
    """True when a model was compiled by `edgetpu_compiler` (it holds the Edge TPU custom op)."""
    return EDGETPU_CUSTOM_OP in set(custom_ops)


def edgetpu_library_name(system: Optional[str] = None) -> str:
    """The libedgetpu file name for an operating system (default: this one)."""
    system = system or platform.system()
    try:
        return EDGETPU_LIBRARIES[system]
    except KeyError:
        raise AcceleratorUnavailableError(
            f"the Edge TPU runtime is not available for {system!r} "
            f"(supported: {', '.join(EDGETPU_LIBRARIES)})"
        ) from None


def load_edgetpu_delegate(
    load_delegate: Callable[..., Any],
    model_path: str,
    device: Optional[str] = None,
    cpu_twin: Optional[str] = None,
) -> Any:
    """Load the Edge TPU delegate, or explain why the model cannot run here.

    `device` is libedgetpu's device selector (":0", "usb", "usb:0", "pci:0").
    """
    library = edgetpu_library_name()
    options: Dict[str, str] = {"device": device} if device else {}
    try:
        # Open the library ourselves first: a failed load_delegate leaves a half-built
        # delegate whose destructor prints a traceback (seen with LiteRT 2.3).
        ctypes.CDLL(library)
        return load_delegate(library, options)
    except (ValueError, OSError, RuntimeError) as exc:
        instead = (
            f"use its CPU twin {cpu_twin!r} instead"
            if cpu_twin
            else "use the CPU version of this model (the same name without '_edgetpu')"
        )
        raise AcceleratorUnavailableError(
            f"{model_path} is compiled for the Edge TPU, but no Edge TPU could be opened "
            f"through {library} ({exc}); install the Edge TPU runtime and plug in the "
            f"accelerator, or {instead}"
        ) from exc


#: USB vendor ids of a Coral USB Accelerator: Global Unichip (before the runtime programs it), Google (after).
CORAL_USB_VENDORS = ("1a6e", "18d1")


def edgetpu_probe() -> Dict[str, bool]:
    """What is there: libedgetpu installed, a PCIe/M.2 Coral (/dev/apex_0), a Coral USB id on the bus."""
    library = ctypes.util.find_library("edgetpu") is not None or os.path.exists("/usr/lib/libedgetpu.so.1")
    usb_devices = Path("/sys/bus/usb/devices")
    vendors = [read_text(str(p)) for p in usb_devices.glob("*/idVendor")] if usb_devices.exists() else []
    return {"library": library, "pcie": os.path.exists("/dev/apex_0"),
            "usb": any(vendor in CORAL_USB_VENDORS for vendor in vendors)}


def edgetpu_attached() -> bool:
    """libedgetpu and an accelerator both present (Edge TPU models can run here)."""
    probe = edgetpu_probe()
    return probe["library"] and (probe["pcie"] or probe["usb"])
