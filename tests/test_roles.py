"""Outputs are mapped to BodyPix roles by name, by channel count, or by explicit metadata."""

import json

import pytest

from edge_bodypix import ModelFormatError
from edge_bodypix.backends.roles import OutputSlot, map_output_roles

from conftest import MODELS

CORAL_OUTPUTS = [
    ("float_heatmaps", (1, 34, 46, 17)), ("float_short_offsets", (1, 34, 46, 34)),
    ("float_mid_offsets", (1, 34, 46, 64)), ("float_segments", (1, 34, 46, 1)),
    ("float_part_heatmaps", (1, 34, 46, 24)), ("float_long_offsets", (1, 34, 46, 34)),
]


def test_coral_names_and_mid_offsets_split_into_forward_and_backward_displacements():
    slots = map_output_roles(CORAL_OUTPUTS)
    assert slots["segments"] == OutputSlot(3, 0, 1)
    assert slots["part_heatmaps"] == OutputSlot(4, 0, 24)
    assert slots["heatmaps"] == OutputSlot(0, 0, 17)
    assert slots["short_offsets"] == OutputSlot(1, 0, 34)
    assert slots["long_offsets"] == OutputSlot(5, 0, 34)
    assert slots["displacement_fwd"] == OutputSlot(2, 0, 32)
    assert slots["displacement_bwd"] == OutputSlot(2, 32, 64)
    assert "part_offsets" not in slots


def test_onnx_export_names():
    names = ["segments", "part_heatmaps", "heatmaps", "short_offsets", "long_offsets",
             "displacement_fwd", "displacement_bwd", "part_offsets"]
    channels = [1, 24, 17, 34, 34, 32, 32, 48]
    slots = map_output_roles([(n, (1, 9, 9, c)) for n, c in zip(names, channels)])
    assert {role: slot.index for role, slot in slots.items()} == {n: i for i, n in enumerate(names)}


def test_official_resnet50_graph_output_names():
    topology = json.loads((MODELS / "tfjs-topology" / "resnet50-model.json").read_text())
    nodes = {node["name"] for node in topology["modelTopology"]["node"]}
    outputs = [
        ("float_segments", 1), ("float_part_heatmaps", 24), ("float_heatmaps", 17),
        ("float_short_offsets", 34), ("float_long_offsets", 34), ("float_part_offsets", 48),
        ("resnet_v1_50/displacement_fwd_2/BiasAdd", 32), ("resnet_v1_50/displacement_bwd_2/BiasAdd", 32),
    ]
    assert {name for name, _ in outputs} <= nodes
    slots = map_output_roles([(name, (1, 9, 9, c)) for name, c in outputs])
    assert slots["displacement_fwd"].index == 6 and slots["displacement_bwd"].index == 7
    assert slots["part_offsets"].index == 5


def test_renamed_outputs_fall_back_to_unambiguous_channel_counts():
    renamed = [("Identity", (1, 9, 9, 24)), ("Identity_1", (1, 9, 9, 1)), ("Identity_2", (1, 9, 9, 17))]
    slots = map_output_roles(renamed)
    assert slots["part_heatmaps"].index == 0 and slots["segments"].index == 1 and slots["heatmaps"].index == 2


def test_explicit_metadata_map_wins():
    outputs = [("StatefulPartitionedCall:0", (1, 9, 9, 34)), ("StatefulPartitionedCall:1", (1, 9, 9, 34)),
               ("StatefulPartitionedCall:2", (1, 9, 9, 1)), ("StatefulPartitionedCall:3", (1, 9, 9, 24))]
    explicit = {"long_offsets": "StatefulPartitionedCall:0", "short_offsets": "StatefulPartitionedCall:1"}
    slots = map_output_roles(outputs, explicit)
    assert slots["long_offsets"].index == 0 and slots["short_offsets"].index == 1
    assert slots["segments"].index == 2


def test_a_model_without_bodypix_outputs_is_rejected_naming_the_model_and_its_outputs():
    with pytest.raises(ModelFormatError, match=r"mobilenet_classifier.tflite: not a BodyPix model.*logits \(1001 ch\)"):
        map_output_roles([("logits", (1, 1001))], model_name="mobilenet_classifier.tflite")


def test_a_named_output_with_the_wrong_channel_count_is_rejected():
    outputs = [("float_segments", (1, 9, 9, 2)), ("float_part_heatmaps", (1, 9, 9, 24))]
    with pytest.raises(ModelFormatError, match="float_segments.*2 channels"):
        map_output_roles(outputs)


def test_metadata_naming_a_missing_output_is_rejected():
    with pytest.raises(ModelFormatError, match="metadata maps 'segments' to output 'nope'"):
        map_output_roles(CORAL_OUTPUTS, {"segments": "nope"})
