// Training curves with uPlot (vendored, window.uPlot): train and test loss, accuracy, and the gradient norm of
// every layer over the steps, so that vanishing and exploding gradients show.

import { CLASS_COLORS, COLORS } from "./palette.js";

// points kept per series: past it, the older half of the history is thinned to every other point, so a long
// run keeps its recent steps in full and its early ones coarser
const MAX_POINTS = 4000;
const LAYER_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F3C8D", "#000000", "#999999"];

// the range a chart is given: a log axis cannot show zero, negatives or sub-normal values, and values near the
// float limit overflow its tick arithmetic (a 600-decade axis froze the page and then threw)
export const LOG_FLOOR = 1e-12;
export const VALUE_CEIL = 1e15;

/**
 * The one place values enter the charts: a finite number the axis can draw, or null (a gap). On a log axis zero and
 * anything below LOG_FLOOR (a vanished gradient) is drawn at the floor; everything is clipped to ±VALUE_CEIL.
 */
export function chartValue(v, log) {
  if (typeof v !== "number" || Number.isNaN(v)) return null;
  if (log) {
    if (v < 0) return null;
    return Math.min(VALUE_CEIL, Math.max(LOG_FLOOR, v));
  }
  return Math.max(-VALUE_CEIL, Math.min(VALUE_CEIL, v));
}

export class Series {
  /** `logs[i]`: whether column i + 1 may be drawn on a log axis. */
  constructor(n, logs = []) { this.reset(n, logs); }
  reset(n, logs = this.logs || []) { this.n = n; this.logs = logs; this.cols = Array.from({ length: n + 1 }, () => []); }
  push(step, values) {
    if (!Number.isFinite(step)) return;
    const xs = this.cols[0];
    if (xs.length && step <= xs[xs.length - 1]) {
      // a repeated or earlier step (after a reset) replaces the tail
      let i = xs.length;
      while (i > 0 && xs[i - 1] >= step) i--;
      for (const c of this.cols) c.length = i;
    }
    xs.push(step);
    for (let i = 0; i < this.n; i++) this.cols[i + 1].push(chartValue(values[i], !!this.logs[i]));
    if (xs.length > MAX_POINTS) this._thin();
  }
  _thin() {
    const half = this.cols[0].length >> 1;
    this.cols = this.cols.map((c) => {
      const older = [];
      for (let i = 0; i < half; i += 2) older.push(c[i]);
      return older.concat(c.slice(half));
    });
  }
  get length() { return this.cols[0].length; }
  /** The step of the last point (null before any). */
  get lastStep() {
    const xs = this.cols[0];
    return xs.length ? xs[xs.length - 1] : null;
  }
}

// steps are whole numbers: the x axis never ticks between them
const STEP_INCRS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7].map((p) => m * p)).sort((a, b) => a - b);

/** A vertical line at step marker() (the past step the timeline shows), drawn over a chart's series. */
function markerHook(marker) {
  return (u) => {
    const step = marker();
    if (step == null) return;
    const x = Math.round(u.valToPos(step, "x", true));
    const { left, top, width, height } = u.bbox;
    if (x < left || x > left + width) return;
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = COLORS.ink;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.restore();
  };
}

function makeChart(el, title, series, { log = false, yRange = null, marker = () => null } = {}) {
  const width = Math.max(200, el.clientWidth || 300);
  const opts = {
    title, width, height: 132,
    hooks: { draw: [markerHook(marker)] },
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false }, points: { size: 5 } },
    scales: { x: { time: false }, y: log ? { distr: 3, log: 10 } : yRange ? { range: yRange } : { auto: true } },
    axes: [
      { stroke: COLORS.muted, grid: { stroke: COLORS.grid, width: 1 }, ticks: { show: false }, size: 26, font: "10px system-ui", incrs: STEP_INCRS },
      { stroke: COLORS.muted, grid: { stroke: COLORS.grid, width: 1 }, ticks: { show: false }, size: 44, font: "10px system-ui",
        values: (u, vals) => vals.map((v) => (v == null ? "" : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(0) : +v.toPrecision(3))) },
    ],
    // uPlot's default points: drawn while there are few (the first steps), hidden once the line is dense
    series: [{ label: "step" }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.6, dash: s.dash, spanGaps: true }))],
  };
  const data = [[], ...series.map(() => [])];
  return new window.uPlot(opts, data, el);
}

export class Charts {
  constructor({ loss, acc, grad }) {
    this.els = { loss, acc, grad };
    this.log = false;
    // train and test loss may be drawn on a log axis; accuracy never is
    this.metrics = new Series(4, [true, true, false, false]);
    this.grads = new Series(0);
    this.layerCount = 0;
    this.classification = true;
    this.dirty = false;
    this.errors = 0;
    this._build();
    const ro = new ResizeObserver(() => this._resize());
    Object.values(this.els).forEach((el) => ro.observe(el));
  }

  _build() {
    for (const c of [this.lossChart, this.accChart, this.gradChart]) if (c) c.destroy();
    const names = this.names || { current: "", previous: "previous" };
    const named = (who, what) => (who ? `${who} ${what}` : what);
    const previous = this.previous ? [{ label: named(names.previous, "train"), color: COLORS.muted, dash: [2, 3] },
      { label: named(names.previous, "test"), color: COLORS.muted, dash: [8, 3] }] : [];
    const marker = () => this.marker;
    this.lossChart = makeChart(this.els.loss, "Loss", [
      { label: named(this.previous && names.current, "train"), color: CLASS_COLORS[0] },
      { label: named(this.previous && names.current, "test"), color: CLASS_COLORS[1], dash: [5, 3] }, ...previous], { log: this.log, marker });
    this.els.acc.hidden = !this.classification;
    this.accChart = makeChart(this.els.acc, "Accuracy", [
      { label: "train", color: CLASS_COLORS[0] }, { label: "test", color: CLASS_COLORS[1], dash: [5, 3] }], { yRange: [0, 1], marker });
    const layers = Array.from({ length: this.layerCount }, (_, i) => ({ label: `W${i + 1}`, color: LAYER_COLORS[i % LAYER_COLORS.length] }));
    this.gradChart = makeChart(this.els.grad, "‖grad W‖ per layer (log)", layers, { log: true, marker });
    this.dirty = true;
  }

  _resize() {
    for (const [c, el] of [[this.lossChart, this.els.loss], [this.accChart, this.els.acc], [this.gradChart, this.els.grad]]) {
      const w = Math.max(200, el.clientWidth);
      if (c && Math.abs(c.width - w) > 2) this._safely(() => c.setSize({ width: w, height: 132 }));
    }
  }

  /** New run: `layerCount` weighted layers, classification or regression. */
  reset(layerCount, classification) {
    this.layerCount = layerCount;
    this.classification = classification;
    this.metrics.reset(4);
    this.grads.reset(layerCount, Array(layerCount).fill(true));
    this._build();
  }

  setLog(log) { this.log = log; this._build(); }

  /** The colours of the axes and grid follow the theme (palette.js): the charts are drawn again with them. */
  restyle() { this._build(); }

  /**
   * The loss curves of another run drawn over this one's ([steps, train loss, test loss] columns), or null; `names`
   * ({current, previous}) name both runs in the legend (a branch and the run it was taken from).
   */
  setPrevious(cols, names = null) {
    if ((cols || null) === (this.previous || null) && JSON.stringify(names) === JSON.stringify(this.names || null)) return;
    this.previous = cols ? [cols[0], cols[1], cols[2]] : null;
    this.names = cols ? names : null;
    this._build();
  }

  /** The past step the timeline shows (a dashed line across the charts), or null. */
  setMarker(step) {
    if (step === this.marker) return;
    this.marker = step;
    for (const c of [this.lossChart, this.accChart, this.gradChart]) this._safely(() => c.redraw(false, false));
  }

  addMetrics(m) {
    this.metrics.push(m.step, [m.train_loss, m.test_loss, m.train_accuracy, m.test_accuracy]);
    this.dirty = true;
  }

  addGradNorms(step, norms) {
    this.grads.push(step, norms);
    this.dirty = true;
  }

  /**
   * Runs a uPlot call and draws at once (uPlot's batch), so that an error in its drawing is caught here instead of
   * escaping from a microtask: the chart is built again empty and the page goes on.
   */
  _safely(fn, chart) {
    try {
      if (chart) chart.batch(fn); else fn();
      return true;
    } catch (err) {
      this.errors++;
      console.warn("a chart could not be drawn and was reset:", err);
      try { this._build(); } catch { /* the next render tries again */ }
      this.dirty = false;
      return false;
    }
  }

  /** Called from the animation loop: redraws at most once per frame. */
  render() {
    if (!this.dirty) return;
    this.dirty = false;
    const m = this.metrics.cols;
    const loss = this.lossChart, acc = this.accChart, grad = this.gradChart;
    const lossData = this.previous ? window.uPlot.join([[m[0], m[1], m[2]], this.previous]) : [m[0], m[1], m[2]];
    if (!this._safely(() => loss.setData(lossData), loss)) return;
    if (this.classification && !this._safely(() => acc.setData([m[0], m[3], m[4]]), acc)) return;
    if (this.grads.length) this._safely(() => grad.setData(this.grads.cols), grad);
  }
}
