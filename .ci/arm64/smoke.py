"""smoke.py OUT.npz PHOTO [X86.npz]: load the default model, segment one photo; save the masks, the face
region, the raw outputs and the input tensor. With X86.npz, also run the interpreter on x86's input tensor,
to tell pre-processing differences from inference differences. Run from the project root (../shared)."""
import json
import os
import platform
import sys
import time

os.environ.setdefault("EDGE_BODYPIX_MODELS", "../shared/models")
started = time.perf_counter()
import cv2  # noqa: E402
import numpy as np  # noqa: E402

import edge_bodypix  # noqa: E402
from edge_bodypix.privacy import default_margin, protected_region  # noqa: E402

t_import = time.perf_counter() - started
out, photo = sys.argv[1], sys.argv[2]
started = time.perf_counter()
net = edge_bodypix.load()
t_load = time.perf_counter() - started
image = cv2.cvtColor(cv2.imread(photo), cv2.COLOR_BGR2RGB)
timings = []
for _ in range(2):
    started = time.perf_counter()
    person = net.segment_person(image)
    wall = time.perf_counter() - started
    t = net.last_timings
    timings.append({"wall_s": round(wall, 3), "pre_ms": round(t.preprocess_ms, 1), "inf_ms": round(t.inference_ms, 1),
                    "post_ms": round(t.postprocess_ms, 1)})
parts = net.segment_person_parts(image)
faces = protected_region(parts, "faces", 0)
plan, tensor = net.preprocess(image)
tensor = tensor.copy()
raw = net.backend.run(tensor)
extra = {}
if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
    extra = {"same_" + k: v for k, v in net.backend.run(np.load(sys.argv[3])["tensor"]).items()}
np.savez_compressed(out, person=person.data, parts=parts.data, faces=faces, margin=default_margin(image.shape),
                    image=image, tensor=tensor, **{"raw_" + k: v for k, v in raw.items()}, **extra)
print(json.dumps({"machine": platform.machine(), "python": platform.python_version(), "numpy": np.__version__,
                  "cv2": cv2.__version__, "model": net.info.name, "backend": net.info.backend,
                  "import_s": round(t_import, 2), "load_s": round(t_load, 2), "segment_person": timings,
                  "person_fraction": round(float(person.data.mean()), 5), "poses": len(person.all_poses)}))
