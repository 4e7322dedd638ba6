// Runs an ONNX model with ONNX Runtime (npm onnxruntime-node) and compares its output with a
// reference .npy (e.g. what `rmvk run` wrote). Not part of CI: used to check that the plain
// models rmvk writes load and compute the same in another runtime.
//   npm install --ignore-scripts onnxruntime-node   (in any folder on NODE_PATH)
//   node ort_compare.js MODEL.onnx INPUT.npy REFERENCE.npy
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
    const buf = fs.readFileSync(path);
    const major = buf[6];
    const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
    const offset = (major === 1 ? 10 : 12) + headerLen;
    const header = buf.toString('latin1', major === 1 ? 10 : 12, offset);
    if (!header.includes("'<f4'")) throw new Error(`${path}: only float32 .npy is supported`);
    const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map(s => s.trim())
        .filter(s => s.length).map(Number);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + buf.length));
    return {shape, data};
}

async function main() {
    const [model, inputPath, refPath] = process.argv.slice(2);
    if (!refPath) {
        console.error('usage: node ort_compare.js MODEL.onnx INPUT.npy REFERENCE.npy');
        process.exit(2);
    }
    const session = await ort.InferenceSession.create(model);
    const x = readNpy(inputPath);
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape)};
    const t0 = Date.now();
    const out = (await session.run(feeds))[session.outputNames[0]].data;
    const ms = Date.now() - t0;
    const ref = readNpy(refPath).data;
    if (ref.length !== out.length) throw new Error(`size differs: ${out.length} vs ${ref.length}`);
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < ref.length; ++i) {
        maxDiff = Math.max(maxDiff, Math.abs(out[i] - ref[i]));
        maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    const ok = maxDiff <= 1e-4 * maxRef;
    console.log(`${model}: onnxruntime ${ms} ms, max|d| ${maxDiff.toExponential(3)}, ` +
                `max|ref| ${maxRef.toFixed(3)}, ${ok ? 'MATCH' : 'MISMATCH'} (bound 1e-4*max|ref|)`);
    process.exit(ok ? 0 : 1);
}
main().catch(e => { console.error(e.message); process.exit(1); });
