#!/usr/bin/env node
// Runs body-pix 2.2.1 (the published npm package, CPU backend) on raw network
// outputs computed by edge-bodypix, so both post-processings see the same tensors.
//
// Usage: node bodypix_reference.js JOB.json
// JOB: {image: {path, height, width}, outputStride, tensors: {role: {path, shape}},
//       calls: [{method, config, out}], resizedInput: path}
// Tensor files are raw little-endian float32 (HWC); the image is raw RGB uint8.
// Writes <out>.json (sizes, poses) and <out>.bin (mask uint8 or part map int32;
// for multi-person methods one per person, concatenated) per call, and the
// resized input that body-pix fed its model to `resizedInput`.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const bodyPix = require('@tensorflow-models/body-pix');

function readFloat32(file, shape) {
  const buf = fs.readFileSync(file);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return tf.tensor3d(Float32Array.from(data), shape, 'float32');
}

// A stand-in for body-pix's BaseModel: returns the recorded outputs and keeps
// the input body-pix passed it (after padAndResizeTo).
class RecordedModel {
  constructor(job, dir) {
    this.outputStride = job.outputStride;
    this.tensors = {};
    for (const [role, spec] of Object.entries(job.tensors)) {
      this.tensors[role] = readFloat32(path.resolve(dir, spec.path), spec.shape);
    }
    this.lastInput = null;
  }
  predict(input) {
    if (this.lastInput) this.lastInput.dispose();
    this.lastInput = tf.keep(tf.clone(input));
    const seg = this.tensors.segmentation;
    const [h, w] = input.shape;
    const expected = [(h - 1) / this.outputStride + 1, (w - 1) / this.outputStride + 1];
    if (seg.shape[0] !== expected[0] || seg.shape[1] !== expected[1]) {
      throw new Error(`body-pix asked for input ${h}x${w} (grid ${expected}), recorded grid is ${seg.shape}`);
    }
    const out = {};
    for (const [role, t] of Object.entries(this.tensors)) out[role] = tf.clone(t);
    return out;
  }
  dispose() {}
}

// body-pix's mask helpers return browser ImageData; Node.js has none.
if (typeof globalThis.ImageData === 'undefined') {
  globalThis.ImageData = class ImageData {
    constructor(data, width, height) { this.data = data; this.width = width; this.height = height; }
  };
}

// Render jobs: {function, segmentations: [{path, dtype, height, width}], list, args, out}
function runRender(job, dir) {
  for (const call of job.render || []) {
    const segmentations = call.segmentations.map((spec) => {
      const buf = fs.readFileSync(path.resolve(dir, spec.path));
      const data = spec.dtype === 'int32'
        ? new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
        : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      return {data: Array.from(data), width: spec.width, height: spec.height};
    });
    const input = call.list ? segmentations : segmentations[0];
    const image = bodyPix[call.function](input, ...(call.args || []));
    fs.writeFileSync(path.resolve(dir, call.out + '.bin'), Buffer.from(Uint8Array.from(image.data).buffer));
  }
}

async function main() {
  const jobFile = process.argv[2];
  const dir = path.dirname(path.resolve(jobFile));
  const job = JSON.parse(fs.readFileSync(jobFile, 'utf8'));
  await tf.setBackend('cpu');
  runRender(job, dir);
  if (!job.image) return;
  const imageBytes = fs.readFileSync(path.resolve(dir, job.image.path));
  const image = tf.tensor3d(Uint8Array.from(imageBytes), [job.image.height, job.image.width, 3], 'int32');
  const model = new RecordedModel(job, dir);
  const net = new bodyPix.BodyPix(model);
  for (const call of job.calls) {
    const result = await net[call.method](image, call.config || {});
    const parts = call.method.endsWith('Parts');
    // multi-person methods return one result per person: their data is concatenated
    const people = Array.isArray(result) ? result : [result];
    const summary = Array.isArray(result)
      ? {height: image.shape[0], width: image.shape[1], people: people.length, poses: people.map((p) => p.pose)}
      : {height: result.height, width: result.width, allPoses: result.allPoses};
    const size = image.shape[0] * image.shape[1];
    const array = parts ? new Int32Array(size * people.length) : new Uint8Array(size * people.length);
    people.forEach((person, i) => array.set(person.data, i * size));
    fs.writeFileSync(path.resolve(dir, call.out + '.bin'), Buffer.from(array.buffer));
    fs.writeFileSync(path.resolve(dir, call.out + '.json'), JSON.stringify(summary));
  }
  if (job.resizedInput && model.lastInput) {
    const data = await model.lastInput.data();
    fs.writeFileSync(path.resolve(dir, job.resizedInput), Buffer.from(Float32Array.from(data).buffer));
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
