"""The code base passes its lint configuration (pyproject.toml [tool.ruff])."""

import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.pure

RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")


def test_sources_pass_ruff():
    result = subprocess.run([RUFF, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
