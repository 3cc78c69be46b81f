"""The `BodyPix` object: body-pix 2.0's API over a loaded network (`loader.load` builds one).

Ports body-pix `BodyPix.segmentPerson` and `segmentPersonParts`
(`body_pix_model.ts`): same parameters, defaults and results, with images as
numpy HxWx3 uint8 RGB arrays instead of browser elements.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple, Union

import numpy as np

from .adapters.geometry import Geometry, InternalResolution, input_resolution
from .adapters.preprocess import apply_lookup_table, check_image, input_lookup_table, pad_and_resize
from .adapters.instances import InstanceLattice, instance_labels
from .adapters.poses import decode_multiple_poses, flip_pose_horizontal, scale_poses, sigmoid
from .adapters.segmentation import SegmentationMaps, face_discs, part_map, person_grid, person_mask
from .backends.base import Backend, RawOutputs
from .errors import InvalidParameterError, ModelFormatError
from .options import DEFAULT_OPTIONS, MultiPersonOptions, SegmentationOptions
from .results import LazyPoses, PartSegmentation, PersonSegmentation, Pose

log = logging.getLogger(__name__)

#: Part ids are decided on a grid this many times finer than the output grid
#: (stride 16 at "medium": every 2nd input pixel). See `adapters.segmentation`.
DEFAULT_PART_FACTOR = 8
#: Instance walks start from this many points per output grid cell and axis.
#: See `adapters.instances`.
DEFAULT_INSTANCE_FACTOR = 2
POSE_ROLES = ("heatmaps", "short_offsets", "displacement_fwd", "displacement_bwd")
_PLAN_CACHE_SIZE = 8


@dataclass
class Timings:
    """Milliseconds spent in the last call, split as the CLI and benchmarks report them."""

    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    postprocess_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.inference_ms + self.postprocess_ms


@dataclass(frozen=True)
class ModelInfo:
    """What the runtime knows about the loaded network."""

    name: str
    path: str
    architecture: str
    multiplier: float
    output_stride: int
    quantisation: str
    normalisation: str
    backend: str


@dataclass
class FramePlan:
    """Everything that depends only on (image size, input size): geometry, resampling maps, input buffers.

    Built once per size and reused (`BodyPix` keeps the last few); the input
    buffers are overwritten by the next frame of the same size, the rest is read-only.
    """

    geometry: Geometry
    maps: SegmentationMaps
    lattice: InstanceLattice
    resized: np.ndarray
    tensor: np.ndarray


@dataclass(frozen=True)
class Inference:
    """One frame after the network, before post-processing: what `BodyPix.infer` returns.

    `outputs` are this frame's own float32 arrays by role; the times are this
    frame's, so a pipeline running frames on two threads keeps them apart.
    """

    plan: FramePlan
    outputs: RawOutputs
    preprocess_ms: float
    inference_ms: float

    def timings(self, postprocess_ms: float = 0.0) -> Timings:
        return Timings(self.preprocess_ms, self.inference_ms, postprocess_ms)


class BodyPix:
    """A loaded BodyPix network. Not thread-safe: use one object per thread."""

    def __init__(
        self, backend: Backend, info: ModelInfo, part_factor: int = DEFAULT_PART_FACTOR,
        instance_factor: int = DEFAULT_INSTANCE_FACTOR,
    ):
        if part_factor < 1 or instance_factor < 1:
            raise InvalidParameterError(
                f"part_factor {part_factor!r} and instance_factor {instance_factor!r} must be >= 1")
        self.backend = backend
        self.info = info
        self.part_factor = int(part_factor)
        self.instance_factor = int(instance_factor)
        self.last_timings = Timings()
        self._lookup = input_lookup_table(info.normalisation, backend.input_dtype, backend.input_quantisation)
        self._plans: "OrderedDict[Tuple[Tuple[int, int], Tuple[int, int]], FramePlan]" = OrderedDict()

    @property
    def output_stride(self) -> int:
        return self.info.output_stride

    def __repr__(self) -> str:
        i = self.info
        return (f"BodyPix({i.name}: {i.architecture} x{i.multiplier} stride {i.output_stride}, "
                f"{i.quantisation}, {i.backend})")

    # -- geometry -------------------------------------------------------------------------
    def input_size_for(self, image_size: Tuple[int, int], internal_resolution: InternalResolution) -> Tuple[int, int]:
        """Model input size used for an image (fixed-size Edge TPU models always use their own)."""
        size = input_resolution(image_size, internal_resolution, self.output_stride)
        if not self.backend.resizable:
            return self.backend.input_size
        if min(size) < self.output_stride + 1:  # one output cell: nothing to interpolate between
            raise InvalidParameterError(
                f"image {image_size[1]}x{image_size[0]} at internal_resolution {internal_resolution!r} gives a "
                f"{size[1]}x{size[0]} model input; BodyPix needs at least {self.output_stride + 1} pixels a side "
                f"(a larger image or internal_resolution)")
        return size

    def _plan(self, image_size: Tuple[int, int], internal_resolution: InternalResolution) -> FramePlan:
        input_size = self.input_size_for(image_size, internal_resolution)
        key = (image_size, input_size)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
            return plan
        grid = self.backend.prepare(input_size)
        expected = tuple((s - 1) // self.output_stride + 1 for s in input_size)
        if self.backend.resizable and grid != expected:
            raise ModelFormatError(
                f"{self.info.path}: input {input_size} gives a {grid} output grid, "
                f"not {expected} as output stride {self.output_stride} implies"
            )
        geometry = Geometry.build(image_size, input_size, grid)
        plan = FramePlan(
            geometry=geometry,
            maps=SegmentationMaps.build(geometry, self.part_factor),
            lattice=InstanceLattice.build(geometry, self.output_stride, self.instance_factor),
            resized=np.empty((input_size[0], input_size[1], 3), dtype=np.uint8),
            tensor=np.empty((input_size[0], input_size[1], 3), dtype=self._lookup.dtype),
        )
        self._plans[key] = plan
        if len(self._plans) > _PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    # -- pipeline -------------------------------------------------------------------------
    def preprocess(
        self, image: np.ndarray, internal_resolution: InternalResolution = "medium",
    ) -> Tuple[FramePlan, np.ndarray]:
        """Padded, resized, normalised input tensor for an image (body-pix `padAndResizeTo`)."""
        image = check_image(image)
        plan = self._plan((image.shape[0], image.shape[1]), internal_resolution)
        pad_and_resize(image, plan.geometry, out=plan.resized)
        apply_lookup_table(plan.resized, self._lookup, out=plan.tensor)
        return plan, plan.tensor

    def infer(
        self, image: np.ndarray, internal_resolution: InternalResolution = "medium",
        roles: Optional[Iterable[str]] = None,
    ) -> Inference:
        """Run the network on an image: its raw float32 outputs by role (all when `roles` is None).

        The first half of every segmentation method; `postprocess` is the second.
        `pipelining.FrameRunner` runs the two on different threads.
        """
        start = time.perf_counter()
        plan, tensor = self.preprocess(image, internal_resolution)
        prepared = time.perf_counter()
        outputs = self.backend.run(tensor, roles)
        done = time.perf_counter()
        return Inference(plan, outputs, (prepared - start) * 1e3, (done - prepared) * 1e3)

    def _timed(self, inference: Inference, started: float) -> None:
        """Record a segmentation method's `last_timings` (only the synchronous methods do)."""
        self.last_timings = inference.timings((time.perf_counter() - started) * 1e3)

    # -- body-pix API ---------------------------------------------------------------------
    def _decode_poses(
        self, outputs: RawOutputs, plan: FramePlan, max_detections: int, score_threshold: float,
        nms_radius: float, flip_horizontal: bool, min_pose_score: Optional[float] = None,
    ) -> List[Pose]:
        """Poses in image pixels (body-pix `decodeMultiplePoses` + `scaleAndFlipPoses`), only those scoring at
        least `min_pose_score` when it is given."""
        scores = sigmoid(outputs["heatmaps"])
        raw = decode_multiple_poses(
            scores, outputs["short_offsets"], outputs["displacement_fwd"], outputs["displacement_bwd"],
            self.output_stride, max_detections, score_threshold, nms_radius,
        )
        if min_pose_score is not None:
            raw = [pose for pose in raw if pose.score >= min_pose_score]
        return scale_poses(raw, plan.geometry, flip_horizontal)

    def _pose_roles(self) -> Tuple[str, ...]:
        return tuple(role for role in POSE_ROLES if role in self.backend.roles)

    def _poses_or_empty(self, outputs, plan, max_detections, score_threshold, nms_radius, flip_horizontal):
        """`all_poses`: decoded on first access (the outputs are this call's own arrays)."""
        if not all(role in outputs for role in POSE_ROLES):
            return []  # a model without pose outputs (segmentation-only export)
        return LazyPoses(lambda: self._decode_poses(
            outputs, plan, max_detections, score_threshold, nms_radius, flip_horizontal))

    def person_roles(self, parts: bool = False, faces: bool = False) -> Tuple[str, ...]:
        """Outputs `segment_person` (or, with `parts`, `segment_person_parts`) reads.

        `faces` adds the part outputs to a person mask's, for `postprocess` to find
        faces the mask misses (`face_discs`) without computing the part map.
        """
        return ("segments",) + (("part_heatmaps",) if parts or faces else ()) + self._pose_roles()

    def segment_person(
        self,
        image: np.ndarray,
        flip_horizontal: bool = False,
        internal_resolution: InternalResolution = "medium",
        segmentation_threshold: float = 0.7,
        max_detections: int = 10,
        score_threshold: float = 0.4,
        nms_radius: float = 20,
    ) -> PersonSegmentation:
        """Person mask of an RGB image (body-pix `segmentPerson`).

        `data` is 1 where the person score exceeds `segmentation_threshold`.
        `all_poses` holds the poses found (`max_detections`, `score_threshold`
        and `nms_radius` steer their decoding); they are decoded when first
        read, so mask-only callers skip that work. With `flip_horizontal` the
        mask and poses are mirrored (body-pix 2.2.1 accepts the flag but ignores it).
        """
        options = SegmentationOptions(flip_horizontal, internal_resolution, segmentation_threshold, max_detections,
                                      score_threshold, nms_radius)
        return self._segment(image, False, options)

    def segment_person_parts(
        self,
        image: np.ndarray,
        flip_horizontal: bool = False,
        internal_resolution: InternalResolution = "medium",
        segmentation_threshold: float = 0.7,
        max_detections: int = 10,
        score_threshold: float = 0.4,
        nms_radius: float = 20,
    ) -> PartSegmentation:
        """Body-part map of an RGB image (body-pix `segmentPersonParts`).

        `data` holds part ids 0..23 (`PART_CHANNELS`) on person pixels, -1 elsewhere.
        """
        options = SegmentationOptions(flip_horizontal, internal_resolution, segmentation_threshold, max_detections,
                                      score_threshold, nms_radius)
        return self._segment(image, True, options)

    def _segment(self, image: np.ndarray, parts: bool, options: SegmentationOptions):
        inference = self.infer(image, options.internal_resolution, self.person_roles(parts=parts))
        started = time.perf_counter()
        result = self.postprocess(inference, parts, options)
        self._timed(inference, started)
        return result

    def postprocess(
        self, inference: Inference, parts: bool = False, options: SegmentationOptions = DEFAULT_OPTIONS,
    ) -> Union[PersonSegmentation, PartSegmentation]:
        """`segment_person`'s (with `parts`, `segment_person_parts`'s) result from what `infer` returned.

        The second half of those methods, for pipelines that run `infer` on the
        next frame on another thread meanwhile (`pipelining.FrameRunner`).
        `options` are the methods' parameters, checked (`options.SegmentationOptions`).
        """
        plan, outputs = inference.plan, inference.outputs
        flip_horizontal, segmentation_threshold = options.flip_horizontal, options.segmentation_threshold
        if parts:
            data = self._part_map(outputs, plan, segmentation_threshold)[1]
        else:
            data = person_mask(outputs["segments"][:, :, 0], plan.maps, segmentation_threshold)
        if flip_horizontal:
            data = np.ascontiguousarray(data[:, ::-1])
        poses = self._poses_or_empty(outputs, plan, options.max_detections, options.score_threshold,
                                     options.nms_radius, flip_horizontal)
        height, width = plan.geometry.image_size
        discs = ()
        if "part_heatmaps" in outputs:
            discs = face_discs(outputs["segments"][:, :, 0], outputs["part_heatmaps"], plan.geometry,
                               segmentation_threshold)
            if flip_horizontal:
                discs = tuple((width - 1 - x, y, r) for x, y, r in discs)
        kind = PartSegmentation if parts else PersonSegmentation
        return kind(width=width, height=height, data=data, all_poses=poses, face_discs=discs)

    def _part_map(self, outputs: RawOutputs, plan: FramePlan, threshold: float) -> Tuple[np.ndarray, np.ndarray]:
        segments = outputs["segments"][:, :, 0]
        mask = person_mask(segments, plan.maps, threshold)
        return mask, part_map(outputs["part_heatmaps"], mask, plan.maps, person_grid(segments, threshold))

    def _instances(self, image, parts: bool, options: MultiPersonOptions):
        missing = [role for role in POSE_ROLES + ("long_offsets",) if role not in self.backend.roles]
        if missing:
            raise ModelFormatError(f"{self.info.path}: multi-person segmentation needs the {', '.join(missing)} outputs")
        roles = ("segments", "long_offsets") + POSE_ROLES + (("part_heatmaps",) if parts else ())
        inference = self.infer(image, options.internal_resolution, roles)
        started = time.perf_counter()
        plan, outputs = inference.plan, inference.outputs
        segments = outputs["segments"][:, :, 0]
        segmentation_threshold, score_threshold = options.segmentation_threshold, options.score_threshold
        if parts:
            mask, part_ids = self._part_map(outputs, plan, segmentation_threshold)
        else:
            mask = person_mask(segments, plan.maps, segmentation_threshold)
        # body-pix keeps poses scoring at least score_threshold (its minPoseScore) for instances
        poses = self._decode_poses(outputs, plan, options.max_detections, score_threshold, options.nms_radius, False,
                                   min_pose_score=score_threshold)[:options.max_detections]
        instances = instance_labels(
            mask, person_grid(segments, segmentation_threshold), outputs["long_offsets"], poses,
            plan.geometry, self.output_stride, plan.lattice, options.refine_steps, options.min_keypoint_score,
        )
        datas = instances.part_maps(part_ids) if parts else instances.masks()
        if options.flip_horizontal:
            datas = [np.ascontiguousarray(data[:, ::-1]) for data in datas]
            poses = [flip_pose_horizontal(pose, plan.geometry.image_size[1]) for pose in poses]
        height, width = plan.geometry.image_size
        kind = PartSegmentation if parts else PersonSegmentation
        results = [kind(width=width, height=height, data=data, pose=pose) for data, pose in zip(datas, poses)]
        self._timed(inference, started)
        return results

    def segment_multi_person(
        self,
        image: np.ndarray,
        flip_horizontal: bool = False,
        internal_resolution: InternalResolution = "medium",
        segmentation_threshold: float = 0.7,
        max_detections: int = 10,
        score_threshold: float = 0.4,
        nms_radius: float = 20,
        min_keypoint_score: float = 0.3,
        refine_steps: int = 10,
    ) -> List[PersonSegmentation]:
        """One mask per detected person, each with its `pose` (body-pix `segmentMultiPerson`).

        Pixels go to the pose their long-offset walks end nearest to (see
        `adapters.instances`); the masks are disjoint and their union is the
        person mask of `segment_person` with the same threshold, except pixels
        more than 1000 pixels from every pose, which body-pix leaves unassigned.
        """
        return self._instances(image, False, MultiPersonOptions(
            flip_horizontal, internal_resolution, segmentation_threshold, max_detections, score_threshold, nms_radius,
            min_keypoint_score, refine_steps))

    def segment_multi_person_parts(
        self,
        image: np.ndarray,
        flip_horizontal: bool = False,
        internal_resolution: InternalResolution = "medium",
        segmentation_threshold: float = 0.7,
        max_detections: int = 10,
        score_threshold: float = 0.4,
        nms_radius: float = 20,
        min_keypoint_score: float = 0.3,
        refine_steps: int = 10,
    ) -> List[PartSegmentation]:
        """One part map per detected person, each with its `pose` (body-pix `segmentMultiPersonParts`)."""
        return self._instances(image, True, MultiPersonOptions(
            flip_horizontal, internal_resolution, segmentation_threshold, max_detections, score_threshold, nms_radius,
            min_keypoint_score, refine_steps))

    # Names used by body-pix's seed README (and python-tf-bodypix users).
    estimate_single_person_segmentation = segment_person
    estimate_single_person_part_segmentation = segment_person_parts
    estimate_multi_person_instance_segmentation = segment_multi_person
    estimate_multi_person_instance_part_segmentation = segment_multi_person_parts
