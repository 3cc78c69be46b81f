"""A stand-in network for orchestration tests: any input, one person in the middle, no model file needed."""

from __future__ import annotations

import threading

import numpy as np

from edge_bodypix.backends.base import DynamicShapeBackend
from edge_bodypix.backends.roles import ROLES
from edge_bodypix.parts import KEYPOINT_NAMES, PART_CHANNELS

STRIDE = 16
CHANNELS = {role: n for role, n in ROLES.items() if role != "part_offsets"}  # what the body-pix methods read


class OnePersonBackend(DynamicShapeBackend):
    """A stand-in network that sees one person filling the middle of any input: the middle half of the
    output grid is person (torso), its top row face, and the nose keypoint sits on the top row's middle."""

    roles = tuple(CHANNELS)
    description = "stand-in (one person)"

    def __init__(self, path, options):
        super().__init__()
        self.path, self.options = path, options

    def prepare(self, input_size):
        return (input_size[0] - 1) // STRIDE + 1, (input_size[1] - 1) // STRIDE + 1  # known: no probe run

    def run(self, input_tensor, roles=None):
        self._ran_on(input_tensor)
        height, width = input_tensor.shape[:2]
        gh, gw = (height - 1) // STRIDE + 1, (width - 1) // STRIDE + 1
        top, bottom, left, right = gh // 4, 3 * gh // 4, gw // 4, 3 * gw // 4
        outputs = {role: np.zeros((gh, gw, n), np.float32) for role, n in CHANNELS.items()}
        outputs["segments"][:] = -10.0
        outputs["segments"][top:bottom, left:right] = 10.0
        outputs["part_heatmaps"][..., PART_CHANNELS.index("torso_front")] = 1.0
        outputs["part_heatmaps"][top, left:right, PART_CHANNELS.index("left_face")] = 5.0
        outputs["heatmaps"][:] = -10.0
        outputs["heatmaps"][top, (left + right) // 2, KEYPOINT_NAMES.index("nose")] = 10.0
        return {role: outputs[role] for role in (roles or CHANNELS)}


class RecordingBackend(OnePersonBackend):
    """The stand-in, noting the thread of every run and failing the runs numbered in `fail_on` (from 1)."""

    def __init__(self, path="stand-in.person", options=None, fail_on=()):
        super().__init__(path, options)
        self.threads, self.fail_on = [], set(fail_on)

    def run(self, input_tensor, roles=None):
        self.threads.append(threading.current_thread().name)
        if len(self.threads) in self.fail_on:
            raise RuntimeError(f"injected failure on run {len(self.threads)}")
        return super().run(input_tensor, roles)
