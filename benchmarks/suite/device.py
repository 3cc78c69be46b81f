"""What machine the numbers come from."""

from __future__ import annotations

import ctypes.util
import os
import platform
import sys
from pathlib import Path
from typing import Dict, Optional


def _read(path: str) -> Optional[str]:
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gb() -> Optional[float]:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def edgetpu_present() -> Dict[str, object]:
    """libedgetpu installed and an accelerator visible (PCIe /dev/apex_0 or a Coral USB id)."""
    library = ctypes.util.find_library("edgetpu") is not None or os.path.exists("/usr/lib/libedgetpu.so.1")
    pcie = os.path.exists("/dev/apex_0")
    usb = False
    for device in Path("/sys/bus/usb/devices").glob("*/idVendor") if Path("/sys/bus/usb/devices").exists() else []:
        vendor = _read(str(device))
        if vendor in ("1a6e", "18d1"):  # Global Unichip (unprogrammed Coral USB) / Google (programmed)
            usb = True
    return {"library": library, "pcie": pcie, "usb": usb}


def device_info(argv=None) -> Dict[str, object]:
    import numpy

    import edge_bodypix
    from edge_bodypix.utils.interpreter_library import interpreter_library

    info: Dict[str, object] = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "memory_gb": memory_gb(),
        "os": f"{platform.system()} {platform.release()}", "machine": platform.machine(),
        "python": platform.python_version(), "numpy": numpy.__version__, "edge_bodypix": edge_bodypix.__version__,
        "raspberry_pi": _read("/proc/device-tree/model"), "jetson": _read("/etc/nv_tegra_release"),
        "edgetpu": edgetpu_present(), "command": " ".join(argv if argv is not None else sys.argv),
    }
    try:
        library = interpreter_library()
        info["interpreter"] = f"{library.name} {library.version}"
    except Exception as exc:  # noqa: BLE001 - informative only
        info["interpreter"] = f"none ({exc})"
    try:
        import onnxruntime

        info["onnxruntime"] = f"{onnxruntime.__version__} ({', '.join(onnxruntime.get_available_providers())})"
    except ImportError:
        info["onnxruntime"] = None
    return info
