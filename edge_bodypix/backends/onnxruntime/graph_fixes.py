"""Small rewrites that let onnxruntime run the BodyPix ONNX exports.

tf2onnx writes the dilated (atrous) convolutions of stride-8 BodyPix as
`auto_pad=SAME_UPPER` with `dilations`, which onnxruntime's CPU kernels refuse
("Dilation not supported for AutoPadType::SAME_UPPER"). For stride-1
convolutions SAME padding is a fixed amount, so it is written out explicitly.
Needs the `onnx` package (the `onnx` extra); models that need no fix load
without it.
"""

from __future__ import annotations

from typing import Optional

from ...errors import BackendUnavailableError, ModelFormatError


def needs_explicit_padding(model) -> bool:
    return any(_is_dilated_same(node) for node in model.graph.node)


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _is_dilated_same(node) -> bool:
    if node.op_type != "Conv":
        return False
    attributes = _attributes(node)
    auto_pad = attributes.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    return auto_pad.startswith("SAME") and any(d > 1 for d in attributes.get("dilations", [1]))


def explicit_same_padding(path: str) -> Optional[bytes]:
    """The model with dilated SAME convolutions given explicit pads, serialised; None when no change is needed."""
    try:
        import onnx
        from onnx import helper
    except ImportError:
        return None
    try:
        model = onnx.load(path)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends: a damaged or foreign file
        raise ModelFormatError(f"{path}: not a readable ONNX model (truncated or corrupt?): "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    if not needs_explicit_padding(model):
        return None
    for node in model.graph.node:
        if not _is_dilated_same(node):
            continue
        attributes = _attributes(node)
        strides = attributes.get("strides", [1, 1])
        if any(s != 1 for s in strides):
            raise ModelFormatError(f"{path}: convolution {node.name} is dilated and strided with SAME padding; "
                                   "onnxruntime cannot run it")
        kernel, dilations = attributes["kernel_shape"], attributes["dilations"]
        totals = [(k - 1) * d for k, d in zip(kernel, dilations)]
        upper = attributes["auto_pad"] in (b"SAME_UPPER", "SAME_UPPER")
        begins = [t // 2 if upper else t - t // 2 for t in totals]
        ends = [t - b for t, b in zip(totals, begins)]
        kept = [a for a in node.attribute if a.name != "auto_pad"]
        del node.attribute[:]
        node.attribute.extend(kept)
        node.attribute.append(helper.make_attribute("pads", begins + ends))
    return model.SerializeToString()


def require_onnx_for(path: str) -> None:
    """Raise when a model needs a rewrite but the onnx package is missing."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise BackendUnavailableError(
            f"{path} has dilated SAME-padded convolutions that onnxruntime cannot run as stored; "
            "pip install 'edge-bodypix[onnx]' (it adds the onnx package that rewrites them)") from None
