"""Our TensorFlow build of each official tfjs checkpoint computes what tfjs itself computes: the same
model.json and shards run by tfjs-converter 4.22 in Node.js (tests/reference/graph_model.js) and by
`converters.tfjs_graph` on one real photo, every output compared."""

import json
import subprocess

import cv2
import numpy as np
import pytest

from bodypix_reference import REFERENCE_DIR, reference_unavailable_reason
from conftest import MODELS, PHOTOS

pytestmark = [pytest.mark.tensorflow, pytest.mark.reference, pytest.mark.slow,
              pytest.mark.skipif(reference_unavailable_reason() is not None, reason=str(reference_unavailable_reason()))]
CHECKPOINTS = ["float/050/model-stride8.json", "quant2/075/model-stride8.json", "quant1/100/model-stride8.json",
               "quant1/100/model-stride16.json", "float/050/model-stride16.json"]


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_a_converted_tfjs_checkpoint_equals_tfjs_on_a_photo(checkpoint, tmp_path):
    from edge_bodypix.converters.tfjs_graph import build_function, output_names
    from edge_bodypix.converters.tfjs_reader import read_tfjs

    path = MODELS / "tfjs" / "bodypix" / "mobilenet" / checkpoint
    model = read_tfjs(str(path))
    image = cv2.resize(cv2.cvtColor(cv2.imread(str(PHOTOS["two"])), cv2.COLOR_BGR2RGB), (321, 241),
                       interpolation=cv2.INTER_AREA)
    tensor = (image.astype(np.float32) / 127.5 - 1.0)[None]
    tensor.tofile(tmp_path / "input.bin")
    names = output_names(model)  # role -> tensor name
    roles = list(names)
    subprocess.run(["node", str(REFERENCE_DIR / "graph_model.js"), str(path), str(tmp_path / "input.bin"), "241", "321",
                    str(tmp_path), *[names[r] for r in roles]], check=True, cwd=REFERENCE_DIR, capture_output=True)
    shapes = json.loads((tmp_path / "shapes.json").read_text())
    ours = {role: value.numpy() for role, value in build_function(model)(tensor).items()}
    for i, role in enumerate(roles):
        theirs = np.fromfile(tmp_path / f"{i}.bin", np.float32).reshape(shapes[names[role]])
        assert ours[role].shape == theirs.shape, role
        scale = float(np.abs(theirs).max()) or 1.0
        # float32 round-off through 28 convolutions in two libraries (oneDNN vs tfjs's CPU kernels) stays
        # under 0.03% of an output's range (measured: 0.015 px of 54 px offsets); a layer run with other
        # dilations than tfjs's moved the segment logits by 4.4 (7% of their range). Outputs of small range
        # (part offsets within 1 px) get a floor of 0.002 (measured up to 0.0011).
        assert float(np.abs(ours[role] - theirs).max()) <= 1e-3 * scale + 2e-3, role
    logits = ours["segments"][0, ..., 0]
    theirs = np.fromfile(tmp_path / f"{roles.index('segments')}.bin", np.float32).reshape(logits.shape)
    assert ((logits > 0) == (theirs > 0)).mean() >= 0.999
