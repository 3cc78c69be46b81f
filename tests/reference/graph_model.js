// Runs an official tfjs graph model (model.json and its shards, from files) with tfjs-converter 4.22 on
// the CPU backend, on one normalised NHWC float32 input, and writes every requested output as raw
// float32 next to a JSON list of shapes. The tests compare our TensorFlow conversion of the same
// checkpoint with what the browser's tfjs computes.
//   node graph_model.js MODEL_JSON INPUT_BIN HEIGHT WIDTH OUT_DIR NAME...
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

async function main() {
  const [modelJson, inputBin, height, width, outDir, ...names] = process.argv.slice(2);
  const model = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const folder = path.dirname(modelJson);
  const specs = [].concat(...model.weightsManifest.map((group) => group.weights));
  const weights = Buffer.concat(model.weightsManifest.map(
    (group) => Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(folder, p))))));
  const handler = tf.io.fromMemory({
    modelTopology: model.modelTopology, weightSpecs: specs, format: model.format,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  });
  await tf.setBackend('cpu');
  const graph = await converter.loadGraphModel(handler);
  const raw = fs.readFileSync(inputBin);
  const input = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [1, +height, +width, 3]);
  const results = graph.execute(input, names);
  const shapes = {};
  for (const [i, name] of names.entries()) {
    const tensor = Array.isArray(results) ? results[i] : results;
    fs.writeFileSync(path.join(outDir, `${i}.bin`), Buffer.from((await tensor.data()).buffer));
    shapes[name] = tensor.shape;
  }
  fs.writeFileSync(path.join(outDir, 'shapes.json'), JSON.stringify(shapes));
}

main().catch((error) => { console.error(error); process.exit(1); });
