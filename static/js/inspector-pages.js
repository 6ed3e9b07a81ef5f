// The inspector's pages (static/js/inspector.js loads this module, with KaTeX, the first time it opens): the
// selected neuron's or weight's numbers, the formulas that produced them and the chain rule, as HTML whose formulas
// carry their TeX in data-tex.

import { fmt } from "./palette.js";
import { isFull, focusOf } from "./frame.js";

const F_TEX = { tanh: "\\tanh", sigmoid: "\\sigma", relu: "\\operatorname{relu}", leaky_relu: "\\operatorname{lrelu}", linear: "\\operatorname{id}", softmax: "\\operatorname{softmax}" };
const F_PRIME_TEX = {
  tanh: "1 - a^2", sigmoid: "a(1 - a)", relu: "[z > 0]", leaky_relu: "1 \\text{ or } 0.01", linear: "1",
};

/** A number for TeX: ASCII minus, powers of ten, parentheses around negatives when asked. */
export function tn(v, paren = false, digits = 4) {
  let s = fmt(v, digits).replace(/−/g, "-");
  const m = s.match(/^(-?[\d.]+)e(-?\d+)$/);
  if (m) s = `${m[1]}\\times 10^{${m[2]}}`;
  if (s === "∞") s = "\\infty";
  return paren && v < 0 ? `(${s})` : s;
}

function sumTerms(terms, maxTerms = 4) {
  const shown = terms.slice(0, maxTerms).join(" + ");
  return terms.length > maxTerms ? `${shown} + \\cdots` : shown;
}

export class InspectorPages {
  /** inspector: the Inspector whose config, sizes and input labels the pages name things by. */
  constructor(inspector) { this.inspector = inspector; }
  get config() { return this.inspector.config; }
  get sizes() { return this.inspector.sizes; }
  get inputLabels() { return this.inspector.inputLabels; }

  /** The page for a selection: a neuron's or a weight's. */
  html(frame, sel) { return sel.kind === "edge" ? this._edge(frame, sel) : this._neuron(frame, sel); }

  _layerName(l) {
    const L = this.sizes.length - 1;
    if (l === 0) return "input";
    if (l === L) return "output layer";
    return `hidden layer ${l}`;
  }

  _neuronName(l, k) {
    if (l === 0) return this.inputLabels?.[k] || `x${k + 1}`;
    return `neuron ${k + 1} of the ${this._layerName(l)}`;
  }

  _row(label, value, q, note = "") {
    return `<tr><th scope="row">${label}</th><td class="num" data-q="${q}" data-value="${value ?? ""}">${fmt(value, 6)}</td><td class="note">${note}</td></tr>`;
  }

  _neuron(frame, { l, k }) {
    const full = isFull(frame);
    const i = focusOf(frame);
    const L = frame.layers.length;
    let out = `<h3>${cap(this._neuronName(l, k))}</h3>`;
    if (l === 0) {
      const v = full && frame.a0 ? frame.a0[i][k] : frame.input_mean?.[k];
      out += `<table class="nums">${this._row(full ? "a⁰ (input)" : "input, batch mean", v, "a", "the feature's value for the focus sample")}</table>`;
      return out;
    }
    const layer = frame.layers[l - 1];
    const f = layer.activation;
    const rows = [];
    if (full) {
      rows.push(this._row("z", layer.z[i][k], "z", "weighted sum"));
      rows.push(this._row("a = f(z)", layer.a[i][k], "a", `f = ${f}`));
      if (layer.f_prime) rows.push(this._row("f′(z)", layer.f_prime[i][k], "f_prime"));
      if (layer.delta) rows.push(this._row("δ = ∂L/∂z", layer.delta[i][k], "delta", "this sample"));
    }
    rows.push(this._row("a, batch mean", layer.a_mean?.[k], "a_mean"));
    rows.push(this._row("δ, batch mean", layer.delta_mean?.[k], "delta_mean"));
    rows.push(this._row("bias b", layer.b[k], "b"));
    if (full && layer.grad_b) rows.push(this._row("grad b", layer.grad_b[k], "grad_b", "mean δ over the batch"));
    if (full && layer.db_applied) rows.push(this._row("Δb applied", layer.db_applied[k], "db_applied"));
    out += `<table class="nums">${rows.join("")}</table>`;
    if (!full) return out + `<p class="hint">These are batch means. Step once (→ or Shift+→) to see one sample's numbers and the formulas.</p>`;

    const prev = (j) => (l === 1 ? frame.a0[i][j] : frame.layers[l - 2].a[i][j]);
    const fanIn = layer.W.length;
    const terms = [];
    for (let j = 0; j < fanIn; j++) terms.push(`${tn(prev(j), true, 3)}\\cdot${tn(layer.W[j][k], true, 3)}`);
    const F = [];
    F.push(`z_{${k + 1}} = \\sum_j a_j w_{j${k + 1}} + b_{${k + 1}} = ${sumTerms(terms)} + ${tn(layer.b[k], true, 3)} = ${tn(layer.z[i][k])}`);
    F.push(f === "softmax"
      ? `a_{${k + 1}} = \\frac{e^{z_{${k + 1}}}}{\\sum_m e^{z_m}} = ${tn(layer.a[i][k])}`
      : `a_{${k + 1}} = ${F_TEX[f]}(z_{${k + 1}}) = ${F_TEX[f]}(${tn(layer.z[i][k])}) = ${tn(layer.a[i][k])}`);
    if (layer.delta) {
      if (l === L) F.push(this._outputDeltaTex(frame, k));
      else {
        const next = frame.layers[l];
        const dterms = [];
        for (let m = 0; m < next.W[0].length; m++) dterms.push(`${tn(next.W[k][m], true, 3)}\\cdot${tn(next.delta[i][m], true, 3)}`);
        F.push(`\\delta_{${k + 1}} = f'(z_{${k + 1}}) \\sum_m w_{${k + 1}m}\\,\\delta_m = ${tn(layer.f_prime[i][k], true, 3)} \\cdot (${sumTerms(dterms)}) = ${tn(layer.delta[i][k])}`);
        F.push(`f'(z) = ${F_PRIME_TEX[f] || "f'(z)"} = ${tn(layer.f_prime[i][k])}`);
      }
    }
    out += F.map((t) => `<div class="formula display" data-tex="${esc(t)}"></div>`).join("");
    return out;
  }

  _outputDeltaTex(frame, k) {
    const i = focusOf(frame);
    const out = frame.layers[frame.layers.length - 1];
    const a = out.a[i][k], y = frame.y[i][k], d = out.delta[i][k];
    const loss = this.config?.loss || "mse";
    if (loss === "mse") {
      return `\\delta_{${k + 1}} = \\frac{\\partial L}{\\partial a}\\,f'(z) = (a - y)\\,f'(z) = (${tn(a)} - ${tn(y, true)}) \\cdot ${tn(out.f_prime[i][k], true)} = ${tn(d)}`;
    }
    return `\\delta_{${k + 1}} = a - y = ${tn(a)} - ${tn(y, true)} = ${tn(d)} \\quad\\text{(${loss === "bce" ? "sigmoid with cross-entropy" : "softmax with cross-entropy"})}`;
  }

  _edge(frame, { l, j, k }) {
    const full = isFull(frame);
    const i = focusOf(frame);
    const layer = frame.layers[l - 1];
    const w = layer.W[j][k];
    const from = l === 1 ? (this.inputLabels?.[j] || `x${j + 1}`) : `neuron ${j + 1} of hidden layer ${l - 1}`;
    let out = `<h3>Weight w<sub>${j + 1},${k + 1}</sub> of layer ${l}: ${esc(from)} → ${this._neuronName(l, k)}</h3>`;
    const rows = [this._row("w (used by this step)", w, "W")];
    if (full && layer.grad_W) {
      const aj = l === 1 ? frame.a0[i][j] : frame.layers[l - 2].a[i][j];
      rows.push(this._row("a<sub>j</sub> (focus sample)", aj, "a_prev"));
      rows.push(this._row("δ<sub>k</sub> (focus sample)", layer.delta[i][k], "delta_k"));
      rows.push(this._row("focus contribution a<sub>j</sub>δ<sub>k</sub>", layer.focus_grad_W ? layer.focus_grad_W[j][k] : aj * layer.delta[i][k], "focus_grad_W", "this sample's own ∂L/∂w"));
      rows.push(this._row("grad W (batch mean)", layer.grad_W[j][k], "grad_W", `mean over ${frame.layers[0].a.length} samples`));
      if (layer.regularization_grad_W) rows.push(this._row("regularization grad", layer.regularization_grad_W[j][k], "regularization_grad_W"));
    }
    if (full && layer.dW_applied) {
      rows.push(this._row("ΔW applied", layer.dW_applied[j][k], "dW_applied", `by ${this.config?.optimizer || "the optimizer"}`));
      rows.push(this._row("w after the update", w + layer.dW_applied[j][k], "W_after"));
    }
    if (!full) rows.push(this._row("‖grad W‖ of the layer", layer.grad_W_norm, "grad_W_norm"));
    out += `<table class="nums">${rows.join("")}</table>`;
    if (!full || !layer.grad_W) {
      return out + `<p class="hint">${full ? "The gradient appears after the backward phase." : "Step once (→ or Shift+→) to see this weight's gradient and the chain rule with one sample's numbers."}</p>`;
    }
    out += this._chain(frame, l, j, k);
    return out;
  }

  /** The chain rule from the loss down to weight (l, j, k), for the focus sample. */
  _chain(frame, l, j, k) {
    const i = focusOf(frame);
    const L = frame.layers.length;
    const steps = [];
    const out = frame.layers[L - 1];
    const loss = this.config?.loss || "mse";
    const outVec = (key, layer) => layer[key][i];
    const vec = (v) => (v.length <= 4 ? `(${v.map((x) => tn(x)).join(",\\ ")})` : `(${v.slice(0, 3).map((x) => tn(x)).join(",\\ ")},\\ \\ldots)`);
    const outDeltaTex = loss === "mse"
      ? `\\delta^{(${L})} = \\frac{\\partial L}{\\partial a^{(${L})}} \\frac{\\partial a^{(${L})}}{\\partial z^{(${L})}} = (a - y)\\, f'(z)`
      : `\\delta^{(${L})} = \\frac{\\partial L}{\\partial z^{(${L})}} = a - y`;
    steps.push({ text: "Start at the loss: the output's error signal", tex: `${outDeltaTex} = ${vec(outVec("delta", out))}` });
    for (let m = L - 1; m >= l; m--) {
      const layer = frame.layers[m - 1];
      const target = m === l;
      const d = target ? `\\delta^{(${m})}_{${k + 1}}` : `\\delta^{(${m})}`;
      let val = target ? tn(layer.delta[i][k]) : vec(outVec("delta", layer));
      if (target) {
        const next = frame.layers[m];
        let back = 0;
        for (let q = 0; q < next.W[0].length; q++) back += next.W[k][q] * next.delta[i][q];
        val = `${tn(layer.f_prime[i][k], true)} \\cdot ${tn(back, true)} = ${val}`;
      }
      steps.push({
        text: `Back through the weights of layer ${m + 1} and the ${layer.activation} of layer ${m}`,
        tex: `${d} = \\frac{\\partial L}{\\partial z^{(${m})}${target ? `_{${k + 1}}` : ""}} = f'(z^{(${m})}${target ? `_{${k + 1}}` : ""}) \\cdot \\big(W^{(${m + 1})} \\delta^{(${m + 1})}\\big)${target ? `_{${k + 1}}` : ""} = ${val}`,
      });
    }
    const layer = frame.layers[l - 1];
    const aj = l === 1 ? frame.a0[i][j] : frame.layers[l - 2].a[i][j];
    const contrib = aj * layer.delta[i][k];
    steps.push({
      text: "Down to the weight: z depends on w through the input a it multiplies",
      tex: `\\frac{\\partial L_i}{\\partial w_{${j + 1}${k + 1}}} = \\frac{\\partial L_i}{\\partial z_{${k + 1}}} \\cdot \\frac{\\partial z_{${k + 1}}}{\\partial w_{${j + 1}${k + 1}}} = \\delta_{${k + 1}}\\, a_{${j + 1}} = ${tn(layer.delta[i][k], true)} \\cdot ${tn(aj, true)} = ${tn(contrib)}`,
    });
    steps.push({
      text: "Average over the batch (each sample contributes its own a·δ)",
      tex: `\\mathrm{grad}\\,W_{${j + 1}${k + 1}} = \\frac{1}{B}\\sum_{i=1}^{B} a_{i${j + 1}}\\,\\delta_{i${k + 1}} = ${tn(layer.grad_W[j][k])}`,
    });
    if (layer.dW_applied) {
      const opt = this.config?.optimizer || "sgd";
      const lr = frame.learning_rate;
      const reg = layer.regularization_grad_W ? layer.regularization_grad_W[j][k] : 0;
      const tex = opt === "sgd"
        ? `\\Delta W = -\\eta\\,(\\mathrm{grad}\\,W + \\mathrm{reg}) = -${tn(lr)} \\cdot (${tn(layer.grad_W[j][k])} + ${tn(reg, true)}) = ${tn(layer.dW_applied[j][k])}`
        : `\\Delta W \\text{ (${opt === "adam" ? "Adam" : "momentum"}, learning rate } ${tn(lr)}) = ${tn(layer.dW_applied[j][k])}`;
      steps.push({ text: "The update the optimizer applied", tex });
    }
    return `<h4>Chain rule, from the loss to this weight</h4><ol class="chain">${steps.map((s) =>
      `<li><span class="why">${s.text}</span><div class="formula display" data-tex="${esc(s.tex)}"></div></li>`).join("")}</ol>`;
  }
}

function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;"); }
function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }
