// Reading a step frame (docs/API.md, "The step frame") the same way in every view.
// Layers are numbered as in the math: 0 is the input (a0), 1..L the weighted layers.

export const PHASES = ["forward", "loss", "backward", "update"];

export function isFull(frame) { return !!frame && frame.detail === "full" && !!frame.layers?.[0]?.a; }

export function focusOf(frame) {
  if (!isFull(frame)) return 0;
  const n = frame.layers[0].a.length;
  return Math.min(Math.max(frame.focus_index || 0, 0), n - 1);
}

/** The focus sample's own loss L_i (a full frame from its loss phase on), or null; `frame.loss` is the batch mean. */
export function focusLoss(frame) {
  const per = isFull(frame) ? frame.loss_per_sample : null;
  return per && per.length ? per[focusOf(frame)] : null;
}

export function sizes(frame) {
  const L = frame.layers;
  return [L[0].W.length, ...L.map((layer) => layer.W[0].length)];
}

/** Which phases of the frame's step have run (and so have data in it). */
export function phasesDone(frame) {
  if (!frame) return 0;
  const i = PHASES.indexOf(frame.phase);
  return i < 0 ? 0 : i + 1;
}

/** Activation of neuron k of layer l for the focus sample (full frames) or the batch mean (summary). */
export function activation(frame, l, k) {
  if (l === 0) {
    if (isFull(frame) && frame.a0) return frame.a0[focusOf(frame)][k];
    return frame.input_mean ? frame.input_mean[k] : null;
  }
  const layer = frame.layers[l - 1];
  if (isFull(frame)) return layer.a[focusOf(frame)][k];
  return layer.a_mean ? layer.a_mean[k] : null;
}

export function columnActivations(frame, l, n) {
  const out = new Array(n);
  for (let k = 0; k < n; k++) out[k] = activation(frame, l, k);
  return out;
}

export function delta(frame, l, k) {
  if (l === 0) return null;
  const layer = frame.layers[l - 1];
  if (isFull(frame) && layer.delta) return layer.delta[focusOf(frame)][k];
  return layer.delta_mean ? layer.delta_mean[k] : null;
}

export function perSample(frame, l, key, k) {
  const layer = frame.layers[l - 1];
  if (!isFull(frame) || !layer[key]) return null;
  return layer[key][focusOf(frame)][k];
}

export function matrix(frame, l, key) {
  const layer = frame.layers[l - 1];
  return layer ? layer[key] ?? null : null;
}
