"""What machine this is, for reports: CPU model, memory, board (the benchmarks and the converters' fidelity report)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Optional


def read_text(path: str) -> Optional[str]:
    """A small system file's text without trailing NULs and newlines (device-tree strings), or None."""
    try:
        return Path(path).read_text(errors="replace").strip("\x00\n ")
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo ("model name" on x86, "Model" or "Hardware" on ARM boards)."""
    text = read_text("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gb() -> Optional[float]:
    for line in (read_text("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def host_description() -> str:
    """One line: operating system, architecture, CPU and core count."""
    return f"{platform.system()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} cores"
