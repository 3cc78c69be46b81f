"""BodyPix label sets: the 24 body parts and the 17 PoseNet keypoints.

Ids and order are body-pix 2.0's (`part_channels.ts`, `keypoints.ts`), so a
part id or keypoint index means the same thing here as in the browser model.
"""

from __future__ import annotations

from typing import Tuple

#: Body part names by part id (body-pix `PART_CHANNELS`).
PART_CHANNELS: Tuple[str, ...] = (
    "left_face", "right_face",
    "left_upper_arm_front", "left_upper_arm_back",
    "right_upper_arm_front", "right_upper_arm_back",
    "left_lower_arm_front", "left_lower_arm_back",
    "right_lower_arm_front", "right_lower_arm_back",
    "left_hand", "right_hand",
    "torso_front", "torso_back",
    "left_upper_leg_front", "left_upper_leg_back",
    "right_upper_leg_front", "right_upper_leg_back",
    "left_lower_leg_front", "left_lower_leg_back",
    "right_lower_leg_front", "right_lower_leg_back",
    "left_feet", "right_feet",
)
NUM_PARTS = len(PART_CHANNELS)

#: Keypoint names by keypoint index (PoseNet / body-pix `PART_NAMES`).
KEYPOINT_NAMES: Tuple[str, ...] = (
    "nose", "leftEye", "rightEye", "leftEar", "rightEar",
    "leftShoulder", "rightShoulder", "leftElbow", "rightElbow",
    "leftWrist", "rightWrist", "leftHip", "rightHip",
    "leftKnee", "rightKnee", "leftAnkle", "rightAnkle",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

#: body-pix's 24-colour rainbow (`RAINBOW_PART_COLORS`), RGB by part id.
RAINBOW: Tuple[Tuple[int, int, int], ...] = (
    (110, 64, 170), (143, 61, 178), (178, 60, 178), (210, 62, 167),
    (238, 67, 149), (255, 78, 125), (255, 94, 99), (255, 115, 75),
    (255, 140, 56), (239, 167, 47), (217, 194, 49), (194, 219, 64),
    (175, 240, 91), (135, 245, 87), (96, 247, 96), (64, 243, 115),
    (40, 234, 141), (28, 219, 169), (26, 199, 194), (33, 176, 213),
    (47, 150, 224), (65, 125, 224), (84, 101, 214), (99, 81, 195),
)

#: PoseNet's skeleton as (parent, child) keypoint names, in body-pix's edge
#: order (`POSE_CHAIN`); the displacement fields' channel e is edge e.
POSE_CHAIN: Tuple[Tuple[str, str], ...] = (
    ("nose", "leftEye"), ("leftEye", "leftEar"), ("nose", "rightEye"),
    ("rightEye", "rightEar"), ("nose", "leftShoulder"),
    ("leftShoulder", "leftElbow"), ("leftElbow", "leftWrist"),
    ("leftShoulder", "leftHip"), ("leftHip", "leftKnee"),
    ("leftKnee", "leftAnkle"), ("nose", "rightShoulder"),
    ("rightShoulder", "rightElbow"), ("rightElbow", "rightWrist"),
    ("rightShoulder", "rightHip"), ("rightHip", "rightKnee"),
    ("rightKnee", "rightAnkle"),
)

#: Keypoint pairs drawn as a skeleton (body-pix `CONNECTED_PART_NAMES`).
CONNECTED_KEYPOINTS: Tuple[Tuple[str, str], ...] = (
    ("leftHip", "leftShoulder"), ("leftElbow", "leftShoulder"),
    ("leftElbow", "leftWrist"), ("leftHip", "leftKnee"),
    ("leftKnee", "leftAnkle"), ("rightHip", "rightShoulder"),
    ("rightElbow", "rightShoulder"), ("rightElbow", "rightWrist"),
    ("rightHip", "rightKnee"), ("rightKnee", "rightAnkle"),
    ("leftShoulder", "rightShoulder"), ("leftHip", "rightHip"),
)
