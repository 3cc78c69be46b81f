"""Edge TPU compilation with Coral's `edgetpu_compiler` (x86-64 Linux only), and its log summarised."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

INSTALL_HINT = ("edgetpu_compiler is not on PATH: on x86-64 Debian/Ubuntu add Coral's apt repository "
                "(https://coral.ai/docs/edgetpu/compiler/) and `apt install edgetpu-compiler`; "
                "the int8 model written here is ready for it (static shape, full integer)")


@dataclass
class CompileResult:
    compiled: bool
    model: Optional[str] = None
    log: Optional[str] = None
    tpu_operations: Optional[int] = None
    cpu_operations: Optional[int] = None
    cpu_operation_names: List[str] = field(default_factory=list)
    message: str = ""


def summarise_log(text: str) -> CompileResult:
    """Operation counts from an edgetpu_compiler log (its 'Number of operations that will run on ...' lines)."""
    tpu = re.search(r"Number of operations that will run on Edge TPU:\s*(\d+)", text)
    cpu = re.search(r"Number of operations that will run on CPU:\s*(\d+)", text)
    cpu_op = r"^\s*([A-Z_0-9]+)\s+\d+\s+.*(?:not supported|not mapped|Mapped to CPU|More than one subgraph)"
    names = sorted(set(re.findall(cpu_op, text, flags=re.MULTILINE)))
    return CompileResult(compiled=tpu is not None, tpu_operations=int(tpu.group(1)) if tpu else None,
                         cpu_operations=int(cpu.group(1)) if cpu else None, cpu_operation_names=names)


def compile_for_edgetpu(model: Path, output_dir: Path, timeout_s: int = 600) -> CompileResult:
    """Run edgetpu_compiler on an int8 model; the log is kept beside the output as <name>_edgetpu.log."""
    compiler = shutil.which("edgetpu_compiler")
    if compiler is None:
        return CompileResult(False, message=INSTALL_HINT)
    completed = subprocess.run([compiler, "-s", "-o", str(output_dir), str(model)], capture_output=True,
                               text=True, timeout=timeout_s)
    log_path = output_dir / f"{model.stem}_edgetpu.log"
    log_path.write_text(completed.stdout + completed.stderr)
    result = summarise_log(completed.stdout + completed.stderr)
    result.log = str(log_path)
    compiled = output_dir / f"{model.stem}_edgetpu.tflite"
    if completed.returncode != 0 or not compiled.is_file():
        result.compiled = False
        lines = [line for line in (completed.stderr or completed.stdout).splitlines() if line.strip()]
        result.message = f"edgetpu_compiler failed: {lines[-1] if lines else completed.returncode}"
        return result
    result.model = str(compiled)
    return result
