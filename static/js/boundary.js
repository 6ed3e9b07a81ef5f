// The data set and the network's output: for 2-D inputs the points over a heatmap of the output (the decision
// boundary), for 1-D regression the fitted curve over the points. Also turns output grids into small images
// for the neurons of the diagram.

import { fitCanvas } from "./canvas.js";
import { diverging, CLASS_COLORS, hexToRgb, COLORS, maxAbs, fmt } from "./palette.js";

const CLASS_RGB = CLASS_COLORS.map(hexToRgb);
const BINARY_RGB = [diverging(-1), diverging(1)];

/** Label of one target row, whatever its encoding (integer, [v], one-hot). */
export function labelOf(y) {
  if (Array.isArray(y)) {
    if (y.length === 1) return y[0];
    let best = 0;
    for (let i = 1; i < y.length; i++) if (y[i] > y[best]) best = i;
    return best;
  }
  return y;
}

/**
 * n*n values (row-major, row 0 at the bottom) to an n x n canvas.
 * mode: "prob" (0..1 -> blue..orange), "signed" (divided by scale, -1..1), "class" (class ids with confidence).
 */
export function gridImage(values, n, { mode = "signed", scale = 1, classes = null, confidence = null, discretize = false, canvas = null, strength = 1 } = {}) {
  const c = canvas || document.createElement("canvas");
  if (c.width !== n) { c.width = n; c.height = n; }
  const ctx = c.getContext("2d");
  const img = ctx.createImageData(n, n);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    const row = n - 1 - i;
    for (let j = 0; j < n; j++) {
      const idx = i * n + j;
      let rgb;
      if (mode === "class") {
        const cls = classes[idx];
        const base = CLASS_RGB[cls % CLASS_RGB.length];
        const conf = discretize ? 1 : Math.max(0, Math.min(1, ((confidence ? confidence[idx] : 1) - 0.3) / 0.7));
        const a = 0.15 + 0.6 * conf;
        rgb = [255 + (base[0] - 255) * a, 255 + (base[1] - 255) * a, 255 + (base[2] - 255) * a];
      } else {
        let v = mode === "prob" ? values[idx] * 2 - 1 : values[idx] / (scale || 1);
        if (discretize) v = v > 0 ? 0.8 : v < 0 ? -0.8 : 0;
        v *= strength;
        rgb = diverging(v);
      }
      const p = (row * n + j) * 4;
      d[p] = rgb[0]; d[p + 1] = rgb[1]; d[p + 2] = rgb[2]; d[p + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

export class BoundaryView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.points = null;
    this.boundary = null;
    this.task = "classification";
    this.classes = 2;
    this.showTest = false;
    this.discretize = false;
    this.heat = document.createElement("canvas");
    this.highlight = null; // indices of the current batch (training rows)
    new ResizeObserver(() => { this.resize(); this.draw(); }).observe(canvas);
    this.resize();
  }

  resize() {
    [this.size, this.h] = fitCanvas(this.canvas, this.ctx, 120, 120);
  }

  setData(points, task, classes) {
    this.points = points;
    this.task = task;
    this.classes = classes || 2;
    this.boundary = null;
    this._yRange = null;
    if (points && task === "regression") {
      const ys = [...points.train.y, ...(points.test?.y || [])].map(labelOf);
      this._yRange = [Math.min(...ys), Math.max(...ys)];
    }
    this.draw();
  }

  setBoundary(b) {
    this.boundary = b;
    this._renderHeat();
    this.draw();
  }

  setOptions(opts) {
    Object.assign(this, opts);
    this._renderHeat();
    this.draw();
  }

  _renderHeat() {
    const b = this.boundary;
    if (!b || b.curve || !b.resolution) return;
    const n = b.resolution;
    if (b.class) gridImage(null, n, { mode: "class", classes: b.class, confidence: b.confidence, discretize: this.discretize, canvas: this.heat });
    else if (this.task === "regression") {
      const scale = this._yRange ? Math.max(Math.abs(this._yRange[0]), Math.abs(this._yRange[1])) : maxAbs(b.output);
      gridImage(b.output, n, { mode: "signed", scale, discretize: this.discretize, canvas: this.heat, strength: 0.7 });
    } else gridImage(b.output, n, { mode: "prob", discretize: this.discretize, canvas: this.heat, strength: 0.7 });
  }

  _pointColor(y) {
    const v = labelOf(y);
    if (this.task === "regression") {
      const s = this._yRange ? Math.max(Math.abs(this._yRange[0]), Math.abs(this._yRange[1])) || 1 : 1;
      const c = diverging(v / s);
      return `rgb(${c})`;
    }
    if (this.classes === 2) return `rgb(${BINARY_RGB[v ? 1 : 0]})`;
    return CLASS_COLORS[v % CLASS_COLORS.length];
  }

  /** The 2-D plane as drawn: its ranges and the maps from data to canvas pixels (CSS) and back. */
  plane() {
    const W = this.size, H = this.h;
    const [lo, hi] = this.boundary?.x_range || this.ranges?.x || [-6, 6];
    const [ylo, yhi] = this.boundary?.y_range || this.ranges?.y || [lo, hi];
    return {
      lo, hi, ylo, yhi, W, H,
      sx: (x) => ((x - lo) / (hi - lo)) * W,
      sy: (y) => H - ((y - ylo) / (yhi - ylo)) * H,
      x: (px) => lo + (px / W) * (hi - lo),
      y: (py) => ylo + ((H - py) / H) * (yhi - ylo),
    };
  }

  /** The drawn point (train, or test when shown) under canvas pixel (px, py), as {x, set, index}, or null. */
  pointAt(px, py) {
    const pts = this.points;
    if (!pts || !pts.train || pts.train.x[0]?.length !== 2) return null;
    const { sx, sy, W } = this.plane();
    const reach = (W < 260 ? 2.6 : 3.4) + 4;
    let best = null, bestD = reach * reach;
    for (const set of this.showTest && pts.test ? ["train", "test"] : ["train"]) {
      pts[set].x.forEach((p, index) => {
        const d = (sx(p[0]) - px) ** 2 + (sy(p[1]) - py) ** 2;
        if (d <= bestD) { bestD = d; best = { x: p, set, index }; }
      });
    }
    return best;
  }

  // Over 60 lines on purpose: one paint pass in z-order (heatmap or curve, axes, points, batch rings) that shares the
  // plane's scales; its steps are short and read top to bottom.
  draw() {
    const ctx = this.ctx, W = this.size, H = this.h;
    ctx.clearRect(0, 0, W, H);
    const pts = this.points;
    if (!pts || !pts.train || !pts.train.x.length) return;
    const dim = pts.train.x[0].length;
    if (dim === 1) return this._drawCurve();
    if (dim !== 2) return;
    const { lo, hi, ylo, yhi, sx, sy } = this.plane();
    if (this.boundary && this.boundary.resolution) {
      ctx.imageSmoothingEnabled = !this.discretize;
      ctx.drawImage(this.heat, 0, 0, W, H);
    } else {
      ctx.fillStyle = "#f8fafc";
      ctx.fillRect(0, 0, W, H);
    }
    const r = W < 260 ? 2.6 : 3.4;
    const drawSet = (set, test) => {
      for (let i = 0; i < set.x.length; i++) {
        const [x, y] = set.x[i];
        ctx.beginPath();
        ctx.arc(sx(x), sy(y), r, 0, 2 * Math.PI);
        ctx.fillStyle = this._pointColor(set.y[i]);
        ctx.fill();
        ctx.lineWidth = test ? 1.6 : 0.8;
        ctx.strokeStyle = test ? "#111827" : "#ffffff";
        ctx.stroke();
      }
    };
    drawSet(pts.train, false);
    if (this.showTest && pts.test) drawSet(pts.test, true);
    if (this.highlight && this.highlight.length) {
      ctx.strokeStyle = COLORS.ink;
      ctx.lineWidth = 1.5;
      for (const idx of this.highlight) {
        const p = pts.train.x[idx];
        if (!p) continue;
        ctx.beginPath();
        ctx.arc(sx(p[0]), sy(p[1]), r + 3, 0, 2 * Math.PI);
        ctx.stroke();
      }
      const f = this.focus != null ? pts.train.x[this.focus] : null;
      if (f) {
        ctx.lineWidth = 3;
        ctx.strokeStyle = COLORS.backward;
        ctx.beginPath();
        ctx.arc(sx(f[0]), sy(f[1]), r + 5, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    // axes ticks
    ctx.fillStyle = "rgba(31,41,55,0.7)";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "bottom";
    ctx.textAlign = "left";
    ctx.fillText(fmt(lo, 2), 3, H - 2);
    ctx.textAlign = "right";
    ctx.fillText(`x1 → ${fmt(hi, 2)}`, W - 3, H - 2);
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText(`x2 ↑ ${fmt(yhi, 2)}`, 3, 3);
  }

  _drawCurve() {
    const ctx = this.ctx, W = this.size, H = this.h;
    const pts = this.points;
    const all = [...pts.train.x, ...(pts.test?.x || [])].map((p) => p[0]);
    const ys = [...pts.train.y, ...(pts.test?.y || [])].map(labelOf);
    let xlo = Math.min(...all), xhi = Math.max(...all);
    let ylo = Math.min(...ys), yhi = Math.max(...ys);
    const curve = this.boundary?.curve;
    if (curve) {
      for (const v of curve.y) if (Number.isFinite(v)) { ylo = Math.min(ylo, v); yhi = Math.max(yhi, v); }
    }
    const py = (yhi - ylo) * 0.08 || 1;
    ylo -= py; yhi += py;
    const pad = 8;
    const sx = (x) => pad + ((x - xlo) / (xhi - xlo || 1)) * (W - 2 * pad);
    const sy = (y) => H - pad - ((y - ylo) / (yhi - ylo || 1)) * (H - 2 * pad);
    ctx.fillStyle = "#f8fafc";
    ctx.fillRect(0, 0, W, H);
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(0, sy(0)); ctx.lineTo(W, sy(0)); ctx.stroke();
    const drawSet = (set, test) => {
      for (let i = 0; i < set.x.length; i++) {
        ctx.beginPath();
        ctx.arc(sx(set.x[i][0]), sy(labelOf(set.y[i])), 2.8, 0, 2 * Math.PI);
        ctx.fillStyle = test ? "#ffffff" : CLASS_COLORS[0];
        ctx.fill();
        ctx.strokeStyle = test ? "#111827" : "#ffffff";
        ctx.lineWidth = test ? 1.4 : 0.6;
        ctx.stroke();
      }
    };
    drawSet(pts.train, false);
    if (this.showTest && pts.test) drawSet(pts.test, true);
    if (curve) {
      ctx.strokeStyle = CLASS_COLORS[1];
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      curve.x.forEach((x, i) => (i ? ctx.lineTo(sx(x), sy(curve.y[i])) : ctx.moveTo(sx(x), sy(curve.y[i]))));
      ctx.stroke();
    }
    ctx.fillStyle = COLORS.muted;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    const long = "points: data · orange line: the network's fit";
    const room = this.size - 12;
    ctx.fillText(ctx.measureText(long).width <= room ? long : "orange line: the fit", 6, 4);
  }
}
