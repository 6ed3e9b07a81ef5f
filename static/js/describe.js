// The short description of a neuron or a connection of the diagram at the frame shown: what the hover tooltip
// and the keyboard cursor's spoken announcement say. The inspector gives the full story.

import { fmt } from "./palette.js";
import { isFull, focusOf, activation } from "./frame.js";

/**
 * hit: {kind: "neuron", l, k} or {kind: "edge", l, j, k}; sizes: neurons per column; inputLabels: names of the
 * inputs. Returns {title, titleHtml, where, values: [[name, number]]}: `title` short (x₁, layer 1, neuron 2,
 * w1,2 of layer 2), `where` the position in words for a listener.
 */
export function describeHit(hit, frame, sizes, inputLabels = []) {
  const L = sizes.length - 1;
  const inputName = (k) => inputLabels[k] || `input ${k + 1}`;
  const neuronName = (l, k) => (l === 0 ? inputName(k) : l === L ? `output neuron ${k + 1}` : `neuron ${k + 1} of hidden layer ${l}`);
  const values = [];
  const layer = frame && frame.layers && hit.l > 0 ? frame.layers[hit.l - 1] : null;
  const full = isFull(frame);
  if (hit.kind === "neuron") {
    const title = hit.l === 0 ? inputName(hit.k) : `${hit.l === L ? "output" : `layer ${hit.l}`}, neuron ${hit.k + 1}`;
    const where = `${neuronName(hit.l, hit.k)}, ${hit.k + 1} of ${sizes[hit.l]}`;
    if (frame && frame.layers) {
      if (hit.l === 0) {
        const a = activation(frame, 0, hit.k);
        if (a != null) values.push([full ? "value" : "value (mean)", a]);
      } else if (full) {
        const i = Math.min(focusOf(frame), layer.a.length - 1);
        values.push(["z", layer.z[i][hit.k]], ["a", layer.a[i][hit.k]]);
        if (layer.delta) values.push(["δ", layer.delta[i][hit.k]]);
      } else {
        values.push(["a (mean)", layer.a_mean?.[hit.k]]);
        if (layer.delta_mean) values.push(["δ (mean)", layer.delta_mean[hit.k]]);
      }
    }
    return { title, titleHtml: esc(title), where, values };
  }
  const title = `w${hit.j + 1},${hit.k + 1} of layer ${hit.l}`;
  const where = `connection from ${neuronName(hit.l - 1, hit.j)} to ${neuronName(hit.l, hit.k)}, weight ${title}`;
  if (layer) {
    values.push(["w", layer.W[hit.j][hit.k]]);
    if (layer.grad_W) values.push(["grad", layer.grad_W[hit.j][hit.k]]);
  }
  return { title, titleHtml: `w<sub>${hit.j + 1},${hit.k + 1}</sub> of layer ${hit.l}`, where, values };
}

/** A tooltip's text for a hit in the diagram: its name, and its numbers in the frame on a second line. */
export function hitHtml(hit, frame, sizes, inputLabels = []) {
  const d = describeHit(hit, frame, sizes, inputLabels);
  const numbers = valuesText(d.values);
  return `<b>${d.titleHtml}</b>${numbers ? `<br>${numbers}` : ""}`;
}

/** The values as one line of text: "z 2.751 · a 0.9919". */
export function valuesText(values) {
  return values.map(([name, v]) => `${name} ${fmt(v)}`).join(" · ");
}

function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;"); }
