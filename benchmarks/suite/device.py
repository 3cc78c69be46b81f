"""What machine the numbers come from: the host, and each registered backend's library and devices."""

from __future__ import annotations

import os
import platform
import sys
from typing import Dict


def device_info(argv=None) -> Dict[str, object]:
    import numpy

    import edge_bodypix
    from edge_bodypix.backends import backend_specs
    from edge_bodypix.backends.tflite.edgetpu import edgetpu_probe
    from edge_bodypix.machine import cpu_model, memory_gb, read_text

    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "memory_gb": memory_gb(),
        "os": f"{platform.system()} {platform.release()}", "machine": platform.machine(),
        "python": platform.python_version(), "numpy": numpy.__version__, "edge_bodypix": edge_bodypix.__version__,
        "raspberry_pi": read_text("/proc/device-tree/model"), "jetson": read_text("/etc/nv_tegra_release"),
        "edgetpu": edgetpu_probe(), "backends": {spec.name: spec.status()[1] for spec in backend_specs()},
        "command": " ".join(argv if argv is not None else sys.argv),
    }
