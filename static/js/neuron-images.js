// The pictures inside the diagram's neurons, as TensorFlow Playground draws them: for 2-D data each neuron's
// activation over the input plane as a small heatmap (the inputs' features computed here, the hidden neurons'
// from the `neurons` grids of a boundary message, a single output from the output heatmap); for 1-D data each
// neuron's activation along x as a plot {x, y, scale}. The main page and the embedded widget both use them.

import { gridImage } from "./boundary.js";
import { maxAbs } from "./palette.js";

const FEATURE_FN = {
  x1: (x, y) => x, x2: (x, y) => y, x1_sq: (x, y) => x * x, x2_sq: (x, y) => y * y, x1_x2: (x, y) => x * y,
  sin_x1: (x, y) => Math.sin(x), sin_x2: (x, y) => Math.sin(y),
};

/** [key, canvas] for each input neuron of a 2-D data set: its feature over the plane [-6, 6]². */
export function inputImages(features, sizes, inputDim) {
  const out = [];
  const feats = features || ["x1", "x2"];
  if (inputDim !== 2 || (sizes[0] !== 2 && sizes[0] !== feats.length)) return out;
  const n = 24;
  feats.forEach((f, k) => {
    const fn = FEATURE_FN[f];
    if (!fn) return;
    const vals = new Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vals[i * n + j] = fn(-6 + (j + 0.5) * 12 / n, -6 + (i + 0.5) * 12 / n);
    out.push([`0:${k}`, gridImage(vals, n, { scale: maxAbs(vals) })]);
  });
  return out;
}

/** 1-D data: the input x itself, the hidden neurons' activations and a single output along x, each on a
 * symmetric scale of at least ±1 (as the 2-D heatmaps). */
function curvePlots(b, sizes) {
  const L = sizes.length - 1;
  const x = b.curve.x;
  const plot = (y) => ({ x, y, scale: Math.max(1, maxAbs(y)) });
  const out = [["0:0", plot(x)]];
  (b.neurons || []).forEach((layer, li) => layer.forEach((vals, k) => out.push([`${li + 1}:${k}`, plot(vals)])));
  if (sizes[L] === 1) out.push([`${L}:0`, plot(b.curve.y)]);
  return out;
}

export class NeuronImages {
  constructor() { this.canvases = new Map(); } // reused from one boundary to the next

  _canvas(key) {
    let c = this.canvases.get(key);
    if (!c) { c = document.createElement("canvas"); this.canvases.set(key, c); }
    return c;
  }

  /**
   * The pictures for the diagram ("l:k" -> canvas or plot) from the latest boundary `b` (may be null): `inputs`
   * (from inputImages) first, then the hidden neurons and, where there is one output, `outputHeat` (the data
   * view's heatmap canvas, copied) or its curve.
   */
  build(b, sizes, { inputs = [], discretize = false, outputHeat = null } = {}) {
    const images = new Map(inputs);
    const L = sizes.length - 1;
    if (b && b.resolution && b.neurons) {
      b.neurons.forEach((layer, li) => layer.forEach((vals, k) => {
        const key = `${li + 1}:${k}`;
        images.set(key, gridImage(vals, b.resolution, { scale: Math.max(1, maxAbs(vals)), discretize, canvas: this._canvas(key) }));
      }));
    }
    if (b && b.resolution && sizes[L] === 1 && outputHeat && outputHeat.width) {
      const c = this._canvas(`${L}:0`);
      if (c.width !== outputHeat.width) { c.width = outputHeat.width; c.height = outputHeat.height; }
      c.getContext("2d").drawImage(outputHeat, 0, 0);
      images.set(`${L}:0`, c);
    }
    if (b && b.curve) for (const [key, plot] of curvePlots(b, sizes)) images.set(key, plot);
    return images;
  }
}
