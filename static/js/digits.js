// The digits data set: the focus sample's 8x8 input image, each first-layer neuron's weights as an 8x8 image,
// and the ten class outputs as bars.

import { diverging, maxAbs, fmt } from "./palette.js";
import { isFull, focusOf } from "./frame.js";

/** 64 values to an 8x8 canvas; grey scale for inputs, the diverging palette for weights. */
export function digitImage(values, { signed = false, canvas = null } = {}) {
  const c = canvas || document.createElement("canvas");
  c.width = 8; c.height = 8;
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(8, 8);
  const m = maxAbs(values) || 1;
  for (let p = 0; p < 64; p++) {
    let rgb;
    if (signed) rgb = diverging(values[p] / m);
    else { const g = Math.round(255 - 255 * Math.max(0, values[p]) / m); rgb = [g, g, g]; }
    img.data.set([rgb[0], rgb[1], rgb[2], 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** Images of W[1][:, k] for every neuron k of the first weighted layer. */
export function firstLayerImages(frame, layerIndex = 1) {
  const W = frame.layers[0].W;
  const images = new Map();
  if (W.length !== 64) return images;
  for (let k = 0; k < W[0].length; k++) images.set(`${layerIndex}:${k}`, digitImage(W.map((row) => row[k]), { signed: true }));
  return images;
}

export class DigitsView {
  constructor(inputCanvas, barsEl, targetEl) {
    this.inputCanvas = inputCanvas;
    this.barsEl = barsEl;
    this.targetEl = targetEl;
    this.barsEl.innerHTML = Array.from({ length: 10 }, (_, c) =>
      `<div class="bar" data-class="${c}"><span class="fill"></span><span class="lab">${c}</span></div>`).join("");
    this.bars = [...this.barsEl.querySelectorAll(".bar")];
  }

  draw(frame) {
    if (!frame || !isFull(frame)) return;
    const i = focusOf(frame);
    const x = frame.a0 ? frame.a0[i] : frame.x?.[i];
    if (x && x.length === 64) digitImage(x, { canvas: this.inputCanvas });
    const out = frame.layers[frame.layers.length - 1].a[i];
    const y = frame.y ? frame.y[i] : null;
    const target = y ? y.indexOf(Math.max(...y)) : -1;
    let best = 0;
    out.forEach((v, c) => { if (v > out[best]) best = c; });
    this.bars.forEach((bar, c) => {
      bar.querySelector(".fill").style.height = `${Math.round(Math.max(0, Math.min(1, out[c])) * 100)}%`;
      bar.classList.toggle("target", c === target);
      bar.classList.toggle("pred", c === best);
      bar.title = `class ${c}: ${fmt(out[c], 3)}`;
    });
    this.targetEl.textContent = target >= 0 ? `a ${target}, predicted ${best}` : "";
    this.targetEl.classList.toggle("wrong", target >= 0 && target !== best);
  }
}
