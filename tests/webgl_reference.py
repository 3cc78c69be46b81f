"""A literal numpy transcription of body-pix 2.2.1's WebGL instance-mask shader, per pixel.

`decode_multiple_masks_webgl.ts` runs this for every image pixel on the GPU;
here it runs for every person pixel in chunks (slow, for tests only). It
serves as the reference for the GPU semantics that edge-bodypix follows.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 17


def _sample(long_offsets, h, w, channel, keypoint):
    """sampleLongOffsets: bilinear with floor/ceil corners; texture reads clamp to the edge."""
    grid_h, grid_w = long_offsets.shape[:2]
    fh, fw = h - np.floor(h), w - np.floor(w)
    cl_h = np.clip(np.ceil(h), 0, grid_h - 1).astype(int)
    cl_w = np.clip(np.ceil(w), 0, grid_w - 1).astype(int)
    fl_h = np.clip(np.floor(h), 0, grid_h - 1).astype(int)
    fl_w = np.clip(np.floor(w), 0, grid_w - 1).astype(int)
    c = channel * NUM_KEYPOINTS + keypoint
    o11 = long_offsets[fl_h, fl_w, c]
    o12 = long_offsets[fl_h, cl_w, c]
    o21 = long_offsets[cl_h, fl_w, c]
    o22 = long_offsets[cl_h, cl_w, c]
    o1 = o11 + (o12 - o11) * fw
    o2 = o21 + (o22 - o21) * fw
    return o1 + (o2 - o1) * fh


def webgl_instance_labels(mask, long_offsets, poses, image_size, input_size, padding, stride,
                          refine_steps=10, min_keypoint_score=0.3, chunk=20000):
    """HxW int: pose index per person pixel, -1 elsewhere (pose keypoints in image pixels)."""
    height, width = image_size
    pad_t, pad_b, pad_l, pad_r = padding
    scale_y = input_size[0] / (pad_t + pad_b + height)
    scale_x = input_size[1] / (pad_l + pad_r + width)

    def strided(pos, pad, scale):
        return ((pos + pad + 1.0) * scale - 1.0) / stride

    labels = np.full((height, width), -1, dtype=np.int64)
    ys, xs = np.nonzero(mask)
    for start in range(0, len(ys), chunk):
        py = ys[start:start + chunk].astype(np.float64)
        px = xs[start:start + chunk].astype(np.float64)
        best = np.full(len(py), 1e6)
        best_index = np.full(len(py), -1)
        ends = []
        for k in range(NUM_KEYPOINTS):
            sh, sw = strided(py, pad_t, scale_y), strided(px, pad_l, scale_x)
            y = py + _sample(long_offsets, sh, sw, 0, k)
            x = px + _sample(long_offsets, sh, sw, 1, k)
            for _ in range(refine_steps):
                yr = np.floor(np.minimum(y, height - 1.0) + 0.5)
                xr = np.floor(np.minimum(x, width - 1.0) + 0.5)
                sh, sw = strided(yr, pad_t, scale_y), strided(xr, pad_l, scale_x)
                dy = _sample(long_offsets, sh, sw, 0, k)
                dx = _sample(long_offsets, sh, sw, 1, k)
                y, x = y + dy, x + dx
            ends.append((y, x))
        for i, pose in enumerate(poses):
            total = np.zeros(len(py))
            count = 0
            for k, keypoint in enumerate(pose.keypoints):
                if keypoint.score > min_keypoint_score:
                    count += 1
                    y, x = ends[k]
                    total += (x - keypoint.position[0]) ** 2 + (y - keypoint.position[1]) ** 2
            if count == 0:
                continue
            mean = total / count
            better = mean < best
            best[better] = mean[better]
            best_index[better] = i
        labels[ys[start:start + chunk], xs[start:start + chunk]] = best_index
    return labels
