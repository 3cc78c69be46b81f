"""Refactoring never changes results: masks, poses, effects and daemon frames are byte-equal to the goldens.

The goldens (`tests/goldens/behaviour.json`) were recorded by
`tests/behaviour_digests.py --record` with the package versions they are
keyed by; other versions move pixels for reasons outside this code (OpenCV's
resize, XNNPACK's kernels), so for them the test says which set is missing.
"""

from __future__ import annotations

import json

import pytest

from behaviour_digests import GOLDENS, all_digests, fingerprint
from conftest import SHARED

pytestmark = pytest.mark.slow


def test_every_result_is_byte_equal_to_the_recorded_goldens():
    goldens = json.loads(GOLDENS.read_text())
    key = fingerprint()
    if key not in goldens:
        pytest.skip(f"no goldens recorded for {key} (recorded: {'; '.join(goldens)}); "
                    "record them on a known-good commit with python tests/behaviour_digests.py --record")
    expected = goldens[key]
    actual = all_digests(SHARED)
    assert sorted(actual) == sorted(expected), "the set of checked results changed"
    changed = [name for name in expected if actual[name] != expected[name]]
    assert not changed, f"{len(changed)} of {len(expected)} results differ from the goldens: {changed}"
