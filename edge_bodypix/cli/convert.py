"""`edge-bodypix convert`: BodyPix checkpoints to TFLite (needs the `convert` extra: TensorFlow)."""

from __future__ import annotations

import argparse
import json

from ..errors import EdgeBodyPixError
from .common import fail


def _size(text: str):
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 481x641") from None
    if height < 2 or width < 2:
        raise argparse.ArgumentTypeError(f"{text} is too small")
    return height, width


def add_parser(commands) -> None:
    # numpy only: TensorFlow loads when converting
    from ..converters.tflite_export import DEFAULT_FLOAT_LAYERS, STRIDE8_FLOAT_LAYERS
    from ..converters.weight_rounding import WEIGHT_ROUNDINGS

    parser = commands.add_parser(
        "convert", help="convert a BodyPix checkpoint to TFLite (float32, float16, dynamic, int8)",
        description="Convert an official BodyPix checkpoint (tfjs model.json, an ONNX export, a catalogue name or "
        "URL) to TFLite; write DIR/<name>.tflite, <name>.meta.json and the fidelity report <name>.report.json.",
    )
    parser.add_argument("source", nargs="?",
                        help="tfjs model.json (or its folder), ONNX file, catalogue name or URL")
    parser.add_argument("--quantize", choices=["float32", "float16", "dynamic", "int8"], default=None,
                        action="append", help="quantisation (repeatable with --all; default float32)")
    parser.add_argument("--all", action="store_true",
                        help="convert every catalogue checkpoint installed here (with --fetch: downloadable too)")
    parser.add_argument("--fetch", action="store_true", help="with --all: download missing checkpoints first")
    parser.add_argument("--edgetpu", action="store_true",
                        help="also compile for the Edge TPU with edgetpu_compiler (int8, --input-size)")
    parser.add_argument("--output-dir", help="where to write (default: the model store's converted/ folder)")
    parser.add_argument("--calibration", action="append", metavar="PATH",
                        help="images, folders or videos for int8 calibration (repeatable)")
    parser.add_argument("--test-images", action="append", metavar="PATH",
                        help="images for the fidelity report (default: every 5th calibration image, held out "
                             "of the calibration)")
    parser.add_argument("--samples", type=int, default=100, help="calibration samples (default 100)")
    parser.add_argument("--input-size", type=_size, metavar="HxW", help="fixed input size (Edge TPU); default dynamic")
    parser.add_argument("--per-tensor", action="store_true", help="per-tensor instead of per-channel int8")
    parser.add_argument("--io-type", choices=["uint8", "int8"], default="uint8",
                        help="full-integer int8 model input/output type (with float layers: float32)")
    parser.add_argument("--float-layers", type=lambda text: tuple(p for p in text.split(",") if p), metavar="NAME,...",
                        help="int8: layers kept in float, by name ('' = full integer; default: "
                             f"{','.join(DEFAULT_FLOAT_LAYERS)}; at output stride 8 also "
                             f"{','.join(STRIDE8_FLOAT_LAYERS[len(DEFAULT_FLOAT_LAYERS):])})")
    parser.add_argument("--weight-rounding", choices=WEIGHT_ROUNDINGS, default="gptq-twin",
                        help="int8 weights of tfjs checkpoints: GPTQ fitted on the int8 model's own layer inputs "
                             "(default; README \"Converting checkpoints\"), GPTQ on the float graph's layer "
                             "inputs, or TFLite's round-to-nearest")
    parser.add_argument("--json", action="store_true", help="print the fidelity report as JSON")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from .. import converters  # noqa: F401 - sets TensorFlow's CPU kernel options before it loads

    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return fail("converting needs TensorFlow: pip install 'edge-bodypix[convert]'", 1)
    from ..converters.fidelity import format_report
    from ..converters.pipeline import build_all, convert_checkpoint, source_for_url

    quantisations = args.quantize or ["float32"]
    if args.all:
        outcome = build_all(quantisations, args.output_dir, args.fetch, args.calibration, args.test_images,
                            args.samples)
        for name, quantisation, path in outcome.converted:
            print(f"converted {name} ({quantisation}) -> {path}")
        for name, reason in outcome.skipped:
            print(f"skipped {name}: {reason}")
        return 0 if outcome.converted or not outcome.skipped else 1
    if not args.source:
        return fail("give a SOURCE to convert, or --all")
    if len(quantisations) != 1:
        return fail("one --quantize per conversion (repeat it only with --all)")
    try:
        source = source_for_url(args.source) if args.source.startswith(("http://", "https://")) else args.source
        result = convert_checkpoint(source, quantisations[0], args.output_dir, args.calibration,
                                    args.test_images, args.input_size, args.per_tensor, args.io_type, args.samples,
                                    args.edgetpu, args.float_layers, args.weight_rounding)
    except EdgeBodyPixError as exc:
        return fail(exc)
    if args.json:
        print(json.dumps(result.report, indent=1))
    else:
        print(f"wrote {result.model_path}\n      {result.metadata_path}\n      {result.report_path}")
        if "person_iou_vs_float" in result.report:
            print(format_report(result.report))
        if "edgetpu" in result.report:
            tpu = result.report["edgetpu"]
            print(f"Edge TPU: {tpu['model']} ({tpu['tpu_operations']} ops on the TPU, {tpu['cpu_operations']} on the CPU)"
                  if tpu["compiled"] else f"Edge TPU: not compiled: {tpu['message']}")
    tpu = result.report.get("edgetpu")
    if tpu and not tpu["compiled"] and tpu.get("log"):  # the compiler ran and rejected the model
        return fail(tpu["message"] + f" (log: {tpu['log']})", 1)
    return 0
