// The network diagram on a canvas: neurons coloured by activation (with a picture inside where one is given: a
// heatmap over the input plane, or for 1-D data a plot along x), connections coloured by the sign of the
// weight and as thick as its size, forward and backward signals travelling along them, edges lit by |grad_W|
// during the backward pass and changing as the update is applied. Draws only what it is given. With
// `keyboard: true` the diagram is a tab stop whose neurons and connections the arrow keys walk (diagram-keys.js)
// and Enter selects, each position spoken through a live region.

import { fitCanvas } from "./canvas.js";
import { COLORS, CLASS_COLORS, divergingCss, maxAbs, fmt } from "./palette.js";
import { PHASES, isFull, focusOf, focusLoss, activation, delta } from "./frame.js";
import { CURSOR_KEYS, moveCursor, startCursor, selectionOf, validCursor } from "./diagram-keys.js";
import { describeHit, valuesText } from "./describe.js";

const MAX_NODE = 42;
const LABEL_FONT = "12px system-ui, sans-serif";
const LABEL_GAP = 6; // between an input label and its neuron

export const DIAGRAM_KEYS_HELP = "Arrow keys: left and right go from a column of neurons to the connections next to it " +
  "and on to the next column, up and down move inside a column, Home and End go to its ends. Enter opens the " +
  "numbers and formulas in the inspector; Escape closes them.";

// out of sight but read by screen readers (inline, so that the embedded widget's stylesheet need not know it)
const OFFSCREEN = "position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0;";

export class NetworkView {
  /** pictureMin: the smallest neuron (CSS pixels) that shows its picture; a smaller one is a plain colour. */
  constructor(canvas, { onSelect, onHover, onCursor, keyboard = false, pictureMin = 12 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onSelect = onSelect || (() => {});
    this.onHover = onHover || (() => {});
    this.onCursor = onCursor || (() => {});
    this.cursor = null;      // keyboard position, while the diagram has the keyboard's focus
    this.frame = null;       // frame drawn last (for the cursor's description)
    this.sizes = [2, 1];
    this.inputLabels = [];
    this.images = new Map(); // "l:k" -> a canvas (2-D: a heatmap) or a plot {x, y, scale} (1-D: a curve along x)
    this.plotted = [];        // the "l:k" of the neurons whose curve the last draw showed
    this.pictured = [];       // the "l:k" of the neurons with any picture (heatmap or curve) in the last draw
    this.pictureMin = Math.max(12, pictureMin);
    this.selection = null;
    this.hover = null;
    this.cols = [];
    this.cssW = 0; this.cssH = 0;
    this._cache = { frame: null };
    this.resize();
    new ResizeObserver(() => { this.resize(); this.dirty = true; }).observe(canvas);
    canvas.addEventListener("click", (e) => {
      const hit = this.hitTest(...this._xy(e));
      this.selection = hit;
      this.dirty = true;
      this.onSelect(hit);
    });
    canvas.addEventListener("mousemove", (e) => {
      const hit = this.hitTest(...this._xy(e));
      const key = hit ? JSON.stringify(hit) : null;
      if (key !== this._hoverKey) {
        this._hoverKey = key;
        this.hover = hit;
        this.dirty = true;
        this.onHover(hit, e);
      }
      canvas.style.cursor = hit ? "pointer" : "default";
    });
    canvas.addEventListener("mouseleave", () => { this.hover = null; this._hoverKey = null; this.dirty = true; this.onHover(null); });
    if (keyboard) this._bindKeys();
    this.dirty = true;
  }

  _bindKeys() {
    const c = this.canvas;
    c.tabIndex = 0;
    c.setAttribute("role", "application");
    c.setAttribute("aria-roledescription", "network diagram");
    const help = document.createElement("p");
    help.id = `${c.id || "network"}-keys-help`;
    help.textContent = DIAGRAM_KEYS_HELP;
    this.announcer = document.createElement("p");
    this.announcer.id = `${c.id || "network"}-cursor`;
    this.announcer.setAttribute("aria-live", "polite");
    for (const el of [help, this.announcer]) { el.style.cssText = OFFSCREEN; c.after(el); }
    c.setAttribute("aria-describedby", help.id);
    // the arrows walk the diagram only when it was reached with the keyboard: after a click they keep
    // stepping the run, as everywhere on the page
    this.keyNav = false;
    c.addEventListener("pointerdown", () => { if (this.keyNav) { this.keyNav = false; this._setCursor(null); } });
    c.addEventListener("focus", () => { if (c.matches(":focus-visible")) this._keyFocus(); });
    c.addEventListener("blur", () => { this.keyNav = false; this._setCursor(null); });
    c.addEventListener("keydown", (e) => {
      if (!this.keyNav || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
      const cur = validCursor(this.cursor, this.sizes) ? this.cursor : null;
      if (CURSOR_KEYS.has(e.key)) this._setCursor(cur ? moveCursor(cur, e.key, this.sizes) : startCursor(this.sizes, this.selection));
      else if (e.key === "Enter") {
        if (!cur) this._setCursor(startCursor(this.sizes, this.selection));
        this.selection = selectionOf(this.cursor);
        this.dirty = true;
        this.onSelect(this.selection);
      } else return;
      e.preventDefault();
      e.stopPropagation();
    });
  }

  _keyFocus() {
    this.keyNav = true;
    this._setCursor(startCursor(this.sizes, this.selection));
  }

  /** Moves the keyboard cursor (null: none), says where it is and reports its place on the screen. */
  _setCursor(cursor) {
    if (!cursor && !this.cursor) return;
    this.cursor = cursor;
    this.dirty = true;
    if (!cursor) { this.onCursor(null); return; }
    const d = describeHit(cursor, this.frame, this.sizes, this.inputLabels);
    const numbers = valuesText(d.values);
    if (this.announcer) this.announcer.textContent = `${d.where}${numbers ? `: ${numbers}` : ""}. Enter to inspect.`;
    const [x, y, place] = this._anchor(cursor);
    const r = this.canvas.getBoundingClientRect();
    this.onCursor(cursor, { clientX: r.left + x, clientY: r.top + y, place });
  }

  /**
   * Where a note about the cursor can go without hiding it (canvas CSS pixels): under a neuron, or beside the
   * middle of a connection on the side it does not run to ("below-left" of one that descends to the right).
   */
  _anchor(cursor) {
    if (cursor.kind === "neuron") { const nd = this.cols[cursor.l].nodes[cursor.k]; return [nd.x, nd.y + nd.s / 2 + 8, "below"]; }
    const a = this.cols[cursor.l - 1].nodes[cursor.j], b = this.cols[cursor.l].nodes[cursor.k];
    return [(a.x + b.x) / 2, (a.y + b.y) / 2, b.y > a.y + 1 ? "below-left" : "below-right"];
  }

  _xy(e) {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  resize() {
    [this.cssW, this.cssH] = fitCanvas(this.canvas, this.ctx, 200, 160);
    this._layout();
    if (this.onLayout) this.onLayout(this.cols);
  }

  /** outputLabels: the names of the output neurons (the classes of a multi-class data set), or none. */
  setShape(sizes, inputLabels, outputLabels = []) {
    this.sizes = sizes;
    this.inputLabels = inputLabels || [];
    this.outputLabels = outputLabels || [];
    this.selection = null;
    this._layout();
    if (this.onLayout) this.onLayout(this.cols);
    if (this.cursor) this._setCursor(validCursor(this.cursor, sizes) ? this.cursor : startCursor(sizes, null));
    this.dirty = true;
  }

  setImages(images) { this.images = images; this.dirty = true; }

  /** The width of the widest input label (0 where none is drawn). */
  _inputLabelWidth() {
    if (this.sizes[0] > 16) return 0;
    this.ctx.font = LABEL_FONT;
    let w = 0;
    for (let k = 0; k < this.sizes[0]; k++) w = Math.max(w, this.ctx.measureText(this._inputLabel(k)).width);
    return w;
  }

  _inputLabel(k) { return this.inputLabels[k] || `x${k + 1}`; }

  _layout() {
    const base = this.sizes[0] > 16 ? 22 : this.cssW < 500 ? 40 : 46;
    this._place(base);
    // the input labels sit left of their neurons: room for the widest one ("sin x₁"), measured in the font it is drawn in
    const room = Math.ceil(this._inputLabelWidth() + LABEL_GAP + this.cols[0].s / 2 + 3);
    if (room > base) this._place(room);
  }

  _place(left) {
    const W = this.cssW, H = this.cssH;
    const n = this.sizes.length;
    const right = 88, top = 22, bottom = 8;
    const span = (W - left - right) / Math.max(1, n - 1);
    this.span = span;
    const maxS = Math.max(14, Math.min(MAX_NODE, span * 0.42));
    this.cols = this.sizes.map((count, l) => {
      const x = left + l * span;
      const avail = H - top - bottom;
      const gap = Math.min(avail / count, maxS * 2.1 + 8);
      const s = Math.max(3, Math.min(maxS, gap * (count > 16 ? 0.8 : 0.7)));
      const y0 = top + (avail - gap * count) / 2 + gap / 2;
      const nodes = [];
      for (let k = 0; k < count; k++) nodes.push({ x, y: y0 + k * gap, s });
      return { x, s, nodes };
    });
  }

  hitTest(px, py) {
    for (let l = 0; l < this.cols.length; l++) {
      for (let k = 0; k < this.cols[l].nodes.length; k++) {
        const nd = this.cols[l].nodes[k];
        const h = Math.max(nd.s / 2 + 2, 5);
        if (Math.abs(px - nd.x) <= h && Math.abs(py - nd.y) <= h) return { kind: "neuron", l, k };
      }
    }
    let best = null, bestD = 5;
    for (let l = 1; l < this.cols.length; l++) {
      const A = this.cols[l - 1], B = this.cols[l];
      if (px < A.x || px > B.x) continue;
      for (let j = 0; j < A.nodes.length; j++) {
        for (let k = 0; k < B.nodes.length; k++) {
          const d = segDist(px, py, A.nodes[j].x, A.nodes[j].y, B.nodes[k].x, B.nodes[k].y);
          if (d < bestD) { bestD = d; best = { kind: "edge", l, j, k }; }
        }
      }
    }
    return best;
  }

  _frameStats(frame) {
    if (this._cache.frame === frame) return this._cache;
    let maxW = 0;
    const maxG = [], maxD = [], maxDW = [], maxA = [], maxDelta = [];
    const full = isFull(frame);
    frame.layers.forEach((layer, i) => {
      for (const row of layer.W) maxW = Math.max(maxW, maxAbs(row));
      maxG[i + 1] = full && layer.grad_W ? Math.max(...layer.grad_W.map(maxAbs)) : 0;
      maxDW[i + 1] = full && layer.dW_applied ? Math.max(...layer.dW_applied.map(maxAbs)) : 0;
      maxD[i + 1] = 0;
    });
    for (let l = 0; l < this.sizes.length; l++) {
      let m = 0, md = 0;
      for (let k = 0; k < this.sizes[l]; k++) {
        const a = activation(frame, l, k);
        if (a != null) m = Math.max(m, Math.abs(a));
        const d = delta(frame, l, k);
        if (d != null && Number.isFinite(d)) md = Math.max(md, Math.abs(d));
      }
      maxA[l] = Math.max(1, m);
      maxDelta[l] = md;
    }
    this._cache = { frame, maxW: maxW || 1, maxG, maxDW, maxA, maxDelta, full };
    return this._cache;
  }

  /**
   * Draws the frame at the moment `view` (from Timeline.view), in passes that share the frame's scales: halos,
   * edges, signals, the selected edges, neurons, labels.
   */
  draw(view) {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.cssW, this.cssH);
    const frame = view.frame;
    this.frame = frame;
    if (!frame || frame.layers.length !== this.cols.length - 1) {
      this._drawNodesBare();
      return;
    }
    const st = this._frameStats(frame);
    st.live = view.phase === "live";
    // 1-D input: the focus sample's x, where each neuron's curve meets its activation (not for batch means)
    st.focusX = st.full && this.sizes[0] === 1 && frame.a0 ? frame.a0[focusOf(frame)][0] : null;
    this.plotted = [];
    this.pictured = [];
    const phaseIdx = view.phase === "live" ? 4 : Math.max(0, PHASES.indexOf(view.phase));
    const pass = {
      view, frame, st, phaseIdx, L: frame.layers.length,
      showGrad: st.full && (view.phase === "backward" || phaseIdx >= 3),
      updT: view.phase === "update" ? view.t : view.done >= 4 && view.phase !== "live" ? 1 : 0,
    };
    this._drawHalos(pass);
    this._drawEdges(pass);
    this._drawSignals(pass);
    this._drawSelectedEdges(pass);
    this._drawNeurons(pass);
    this._drawLabels(pass);
  }

  /** Halos under the edges: |grad_W| in the backward pass, |dW_applied| while the update is applied. */
  _drawHalos({ view, frame, st, L, showGrad }) {
    const ctx = this.ctx, cols = this.cols;
    ctx.lineCap = "round";
    for (let l = 1; l <= L; l++) {
      const layer = frame.layers[l - 1];
      const A = cols[l - 1].nodes, B = cols[l].nodes;
      const r = view.phase === "backward" ? view.reveal(l) : 1;
      if (showGrad && layer.grad_W && r > 0 && view.phase !== "update" && st.maxG[l] > 0) {
        ctx.strokeStyle = COLORS.backward;
        for (let j = 0; j < A.length; j++) for (let k = 0; k < B.length; k++) {
          const g = Math.abs(layer.grad_W[j][k]) / st.maxG[l];
          if (g < 0.04) continue;
          ctx.globalAlpha = 0.55 * g * Math.min(1, r * 1.5);
          ctx.lineWidth = 3 + 7 * g;
          line(ctx, A[j], B[k]);
        }
      }
      if (view.phase === "update" && st.full && layer.dW_applied && st.maxDW[l] > 0) {
        ctx.strokeStyle = "#16a34a";
        for (let j = 0; j < A.length; j++) for (let k = 0; k < B.length; k++) {
          const g = Math.abs(layer.dW_applied[j][k]) / st.maxDW[l];
          if (g < 0.05) continue;
          ctx.globalAlpha = 0.5 * g * (1 - 0.6 * view.t);
          ctx.lineWidth = 3 + 7 * g;
          line(ctx, A[j], B[k]);
        }
      }
    }
    ctx.globalAlpha = 1;
  }

  /** The edges, grouped by sign and size so that the stroke style changes a few dozen times only. */
  _drawEdges({ frame, st, L, updT }) {
    const ctx = this.ctx, cols = this.cols;
    // layer of the edges between column l-1 and column l is frame.layers[l-1]
    const weightAt = (layer, j, k) => {
      const w = layer.W[j][k];
      if (updT > 0 && st.full && layer.dW_applied) return w + updT * layer.dW_applied[j][k];
      return w;
    };
    const LEVELS = 24;
    const buckets = new Array(2 * (LEVELS + 1));
    for (let l = 1; l <= L; l++) {
      const layer = frame.layers[l - 1];
      const A = cols[l - 1].nodes, B = cols[l].nodes;
      const thin = A.length * B.length > 100 ? 1 : 0;
      for (let j = 0; j < A.length; j++) for (let k = 0; k < B.length; k++) {
        const w = weightAt(layer, j, k);
        const m = Math.min(1, Math.abs(w) / st.maxW);
        const key = (w < 0 ? 0 : LEVELS + 1) + Math.round(m * LEVELS);
        let bucket = buckets[key];
        if (!bucket) bucket = buckets[key] = [[], []];
        bucket[thin].push(A[j].x, A[j].y, B[k].x, B[k].y);
      }
    }
    for (let key = 0; key < buckets.length; key++) {
      const bucket = buckets[key];
      if (!bucket) continue;
      const neg = key <= LEVELS;
      const m = (neg ? key : key - LEVELS - 1) / LEVELS;
      ctx.strokeStyle = divergingCss((neg ? -1 : 1) * (0.3 + 0.7 * m));
      for (let thin = 0; thin < 2; thin++) {
        const pts = bucket[thin];
        if (!pts.length) continue;
        // dense layers: hairlines (the fast path of a software rasterizer) for the smaller half of the weights
        ctx.lineWidth = thin ? (m < 0.5 ? 1 : 2 * m + 0.3) : 0.6 + 4.6 * m;
        ctx.globalAlpha = thin && m < 0.5 ? 0.45 + m : 1;
        // one stroke per edge: a single path of many crossing segments is far slower to fill in software
        for (let p = 0; p < pts.length; p += 4) {
          ctx.beginPath();
          ctx.moveTo(pts[p], pts[p + 1]);
          ctx.lineTo(pts[p + 2], pts[p + 3]);
          ctx.stroke();
        }
      }
    }
    ctx.globalAlpha = 1;
  }

  /** Signals travelling along the edges of the layer being reached. */
  _drawSignals({ view, L }) {
    const ctx = this.ctx, cols = this.cols;
    if (view.phase === "forward" || view.phase === "backward") {
      const back = view.phase === "backward";
      ctx.fillStyle = back ? COLORS.backward : COLORS.forward;
      for (let l = 1; l <= L; l++) {
        const r = view.reveal(l);
        if (r <= 0 || r >= 1) continue;
        const p = back ? 1 - r : r;
        const A = cols[l - 1].nodes, B = cols[l].nodes;
        const rad = A.length * B.length > 400 ? 1.6 : 3;
        ctx.beginPath();
        for (let j = 0; j < A.length; j++) for (let k = 0; k < B.length; k++) {
          const x = A[j].x + (B[k].x - A[j].x) * p, y = A[j].y + (B[k].y - A[j].y) * p;
          ctx.moveTo(x + rad, y);
          ctx.arc(x, y, rad, 0, 2 * Math.PI);
        }
        ctx.fill();
      }
    }
  }

  /** The selected, hovered or keyboard-cursor edge, on top. */
  _drawSelectedEdges({ L }) {
    const ctx = this.ctx, cols = this.cols;
    for (const sel of [this.hover, this.selection, this.cursor]) {
      if (sel && sel.kind === "edge" && sel.l <= L && cols[sel.l]?.nodes[sel.k] && cols[sel.l - 1]?.nodes[sel.j]) {
        const cur = sel === this.cursor;
        if (cur) {  // a white casing so that the cursor shows on any edge colour
          ctx.strokeStyle = "#fff";
          ctx.lineWidth = 6;
          line(ctx, cols[sel.l - 1].nodes[sel.j], cols[sel.l].nodes[sel.k]);
        }
        ctx.strokeStyle = cur ? COLORS.cursor : COLORS.select;
        ctx.lineWidth = cur ? 3 : 2;
        ctx.setLineDash(sel === this.selection ? [] : cur ? [7, 4] : [4, 3]);
        line(ctx, cols[sel.l - 1].nodes[sel.j], cols[sel.l].nodes[sel.k]);
        ctx.setLineDash([]);
      }
    }
  }

  _drawNeurons({ view, frame, st, phaseIdx }) {
    const cols = this.cols;
    for (let l = 0; l < cols.length; l++) {
      const reached = l === 0 || view.phase === "live" || phaseIdx > 0 || (view.phase === "forward" && view.reveal(l) >= 1);
      const deltaShown = l > 0 && (view.phase === "live" ? frame.layers[l - 1].delta_mean != null
        : (view.phase === "backward" && view.reveal(l) >= 1) || phaseIdx > 2);
      for (let k = 0; k < cols[l].nodes.length; k++) {
        const nd = cols[l].nodes[k];
        const a = reached ? activation(frame, l, k) : null;
        const dl = deltaShown ? delta(frame, l, k) : null;
        this._drawNode(nd, l, k, a, dl, st);
      }
    }
  }

  /** A label's text, its box kept (labelBoxes) so that a test can measure that none is cut by the canvas's edges. */
  _label(text, x, y) {
    const ctx = this.ctx;
    ctx.fillText(text, x, y);
    const w = ctx.measureText(text).width;
    const x0 = ctx.textAlign === "right" ? x - w : ctx.textAlign === "center" ? x - w / 2 : x;
    this.labelBoxes.push({ text, left: x0, right: x0 + w });
  }

  /** Labels: the inputs' names, each layer's warnings, the output neurons' classes, prediction and loss. */
  _drawLabels(pass) {
    const ctx = this.ctx, cols = this.cols;
    const { frame, L } = pass;
    this.labelBoxes = [];
    ctx.font = LABEL_FONT;
    ctx.fillStyle = COLORS.ink;
    ctx.textBaseline = "middle";
    if (this.sizes[0] <= 16) {
      ctx.textAlign = "right";
      cols[0].nodes.forEach((nd, k) => this._label(this._inputLabel(k), nd.x - nd.s / 2 - LABEL_GAP, nd.y));
    }
    ctx.textAlign = "center";
    for (let l = 1; l <= L; l++) {
      const layer = frame.layers[l - 1];
      const notes = [];
      if (layer.warning) notes.push(`⚠ ${layer.warning}`);
      if (layer.dead_fraction) notes.push(`dead ${Math.round(layer.dead_fraction * 100)}%`);
      if (notes.length) {
        ctx.fillStyle = COLORS.warn;
        ctx.font = "bold 11px system-ui, sans-serif";
        ctx.fillText(notes.join(" · "), cols[l].x, 10);
      }
    }
    const out = cols[L];
    ctx.textAlign = "left";
    ctx.font = "11px system-ui, sans-serif";
    const x = out.x + out.s / 2 + 10;
    const many = out.nodes.length > 3;
    if (this.outputLabels.length === out.nodes.length && (!many || out.s >= 10)) {
      // the class of each output neuron of a multi-class data set, with its colour in the data view
      out.nodes.forEach((nd, k) => {
        const y = many ? nd.y : nd.y - 20;
        ctx.fillStyle = CLASS_COLORS[k % CLASS_COLORS.length];
        ctx.fillRect(x, y - 4, 8, 8);
        ctx.fillStyle = COLORS.ink;
        this._label(this.outputLabels[k], x + 11, y);
      });
    }
    const { view, phaseIdx } = pass;
    if (frame.loss != null && (view.phase === "live" || phaseIdx > 1 || view.phase === "loss")) {
      this._drawPrediction(pass, x, many);
      this._drawLoss(pass, many);
    }
  }

  /** ŷ and y of the focus sample beside each output neuron, or each class's probability (many classes). */
  _drawPrediction({ frame, st, L }, x, many) {
    const ctx = this.ctx, out = this.cols[L];
    const focus = focusOf(frame);
    if (!many && st.full && frame.y) {
      out.nodes.forEach((nd, k) => {
        ctx.fillStyle = COLORS.ink;
        this._label(`ŷ ${fmt(frame.layers[L - 1].a[focus][k], 3)}`, x, nd.y - 7);
        ctx.fillStyle = COLORS.muted;
        this._label(`y ${fmt(frame.y[focus][k], 3)}`, x, nd.y + 7);
      });
    }
    if (many && st.full && out.s >= 10) {
      // many classes (digits): each output neuron's probability for the focus sample, beside its class
      out.nodes.forEach((nd, k) => {
        ctx.fillStyle = COLORS.muted;
        const after = x + 11 + ctx.measureText(this.outputLabels[k] || "").width + 5;
        this._label(fmt(frame.layers[L - 1].a[focus][k], 2), after, nd.y);
      });
    }
  }

  /** The focus sample's own loss and the batch mean the gradients descend, each named, on a backing. */
  _drawLoss({ view, frame, L }, many) {
    const ctx = this.ctx, out = this.cols[L];
    const top = out.nodes[0].y - out.s / 2, bottom = out.nodes[out.nodes.length - 1].y + out.s / 2;
    const emph = view.phase === "loss";
    const ly = many ? top - 14 : bottom + 18;
    const own = focusLoss(frame);
    const lines = own != null && frame.loss_per_sample.length > 1
      ? [`sample ${focusOf(frame)}: loss ${fmt(own, 4)}`, `batch mean ${fmt(frame.loss, 4)}`] : [`loss ${fmt(frame.loss, 4)}`];
    ctx.font = `${emph ? "bold 14px" : "12px"} system-ui, sans-serif`;
    const tw = Math.max(...lines.map((t) => ctx.measureText(t).width));
    const lx = Math.min(this.cssW - tw - 6, out.x - tw / 2);
    const y0 = many ? ly - 18 * (lines.length - 1) : ly;
    // a backing so that the numbers stay readable over the connections they may cross
    ctx.fillStyle = emph ? COLORS.lossBack : COLORS.labelBack;
    roundRect(ctx, lx - 6, y0 - 11, tw + 12, 22 + 18 * (lines.length - 1), 6);
    ctx.fill();
    ctx.fillStyle = COLORS.ink;
    lines.forEach((t, n) => this._label(t, lx, y0 + 18 * n));
  }

  _drawNodesBare() {
    const ctx = this.ctx;
    for (const col of this.cols) for (const nd of col.nodes) {
      ctx.fillStyle = "#f3f4f6";
      ctx.strokeStyle = "#cbd5e1";
      ctx.lineWidth = 1.5;
      roundRect(ctx, nd.x - nd.s / 2, nd.y - nd.s / 2, nd.s, nd.s, Math.min(6, nd.s / 4));
      ctx.fill(); ctx.stroke();
    }
  }

  // Over 60 lines on purpose: a neuron's layers of paint (fill, picture or plot, rings, δ tint, halo) in the order they
  // stack, all from the same size and position.
  _drawNode(nd, l, k, a, dl, st) {
    const ctx = this.ctx;
    const s = nd.s, x0 = nd.x - s / 2, y0 = nd.y - s / 2, rad = Math.min(6, s / 4);
    const aColor = a == null ? "#e5e7eb" : divergingCss(a / st.maxA[l]);
    if (dl != null && st.maxDelta[l] > 0 && s >= 6) {
      const m = Math.min(1, Math.abs(dl) / st.maxDelta[l]);
      ctx.strokeStyle = COLORS.backward;
      ctx.globalAlpha = st.live ? 0.12 + 0.5 * m : 0.35 + 0.65 * m;
      ctx.lineWidth = 1.5 + 3.5 * m;
      roundRect(ctx, x0 - 4, y0 - 4, s + 8, s + 8, rad + 3);
      ctx.stroke();
      ctx.globalAlpha = 1;
    }
    const img = s >= this.pictureMin ? this.images.get(`${l}:${k}`) : null;
    if (img) this.pictured.push(`${l}:${k}`);
    if (s < 12) {
      // small neurons (many inputs): plain squares, no picture
      ctx.fillStyle = aColor;
      ctx.fillRect(x0, y0, s, s);
    } else {
      if (img && img.y) {
        this._drawPlot(img, x0, y0, s, a, a == null ? null : st.focusX);
        this.plotted.push(`${l}:${k}`);
      } else if (img) {
        ctx.fillStyle = "#fff";
        ctx.fillRect(x0, y0, s, s);
        ctx.imageSmoothingEnabled = img.width > 10;
        ctx.globalAlpha = a == null ? 0.35 : 1;
        ctx.drawImage(img, x0, y0, s, s);
        ctx.globalAlpha = 1;
      } else {
        ctx.fillStyle = aColor;
        ctx.fillRect(x0, y0, s, s);
      }
      // the border is the activation's colour; drawn as a rounded frame over the square corners
      ctx.lineWidth = 3;
      ctx.strokeStyle = a == null ? "#cbd5e1" : divergingCss(Math.sign(a) * Math.max(0.35, Math.abs(a) / st.maxA[l]));
      roundRect(ctx, x0 + 0.5, y0 + 0.5, s - 1, s - 1, rad);
      ctx.stroke();
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      roundRect(ctx, x0 - 1.5, y0 - 1.5, s + 3, s + 3, rad + 1.5);
      ctx.stroke();
    }
    const sel = this.selection, hov = this.hover, cur = this.cursor;
    for (const h of [hov, sel]) {
      if (h && h.kind === "neuron" && h.l === l && h.k === k) {
        ctx.strokeStyle = COLORS.select;
        ctx.lineWidth = h === sel ? 2.5 : 1.5;
        roundRect(ctx, x0 - 2, y0 - 2, s + 4, s + 4, rad + 2);
        ctx.stroke();
      }
    }
    if (cur && cur.kind === "neuron" && cur.l === l && cur.k === k) {
      const m = s < 12 ? 4 : 7;
      ctx.strokeStyle = COLORS.cursor;
      ctx.lineWidth = 2.5;
      ctx.setLineDash([5, 3]);
      roundRect(ctx, x0 - m, y0 - m, s + 2 * m, s + 2 * m, rad + m);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    // numbers beside the neuron, where the columns leave room for them
    if (s >= 22 && this.span - s >= 58 && l > 0 && l < this.cols.length - 1 && (a != null || dl != null)) {
      ctx.font = "10px system-ui, sans-serif";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      const x = x0 + s + (dl != null ? 7 : 4);
      const lines = [];
      if (a != null) lines.push([`a ${fmt(a, 2)}`, COLORS.ink]);
      if (dl != null) lines.push([`δ ${fmt(dl, 2)}`, COLORS.backward]);
      const w = Math.max(...lines.map(([t]) => ctx.measureText(t).width));
      ctx.fillStyle = COLORS.labelBack;
      ctx.fillRect(x - 2, nd.y - lines.length * 6 - 1, w + 4, lines.length * 12 + 2);
      lines.forEach(([t, c], i) => { ctx.fillStyle = c; ctx.fillText(t, x, nd.y + (i - (lines.length - 1) / 2) * 12); });
    }
  }

  /**
   * A 1-D network's neuron: its values along x (plot.y at plot.x, scaled by plot.scale) drawn inside its
   * square, tinted orange above zero and blue below, with the focus sample's (x, a) as a ring on the curve.
   */
  _drawPlot(plot, x0, y0, s, a, focusX) {
    const ctx = this.ctx;
    const xs = plot.x, ys = plot.y, n = Math.min(xs.length, ys.length);
    const pad = 3, w = s - 2 * pad, h = s - 2 * pad;
    const lo = xs[0], span = xs[n - 1] - lo || 1, m = plot.scale || 1;
    const px = (x) => x0 + pad + ((x - lo) / span) * w;
    const py = (v) => y0 + pad + h / 2 - (Math.max(-1.05, Math.min(1.05, v / m)) * h) / 2;
    const zero = py(0);
    const curve = new Path2D(), area = new Path2D();
    area.moveTo(px(xs[0]), zero);
    let pen = false;
    const every = Math.max(1, Math.floor(n / (2 * s))); // about two points per CSS pixel
    for (let i = 0; i < n; i = i + every >= n && i < n - 1 ? n - 1 : i + every) {
      const v = ys[i], ok = Number.isFinite(v);
      area.lineTo(px(xs[i]), ok ? py(v) : zero);
      if (ok) { if (pen) curve.lineTo(px(xs[i]), py(v)); else curve.moveTo(px(xs[i]), py(v)); }
      pen = ok;
    }
    area.lineTo(px(xs[n - 1]), zero);
    area.closePath();
    ctx.fillStyle = "#fff";
    ctx.fillRect(x0, y0, s, s);
    ctx.save();
    ctx.globalAlpha = a == null ? 0.35 : 1; // not reached yet in this forward pass
    for (const [top, bottom, tint] of [[y0, zero, 0.5], [zero, y0 + s, -0.5]]) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(x0, top, s, bottom - top);
      ctx.clip();
      ctx.fillStyle = divergingCss(tint);
      ctx.fill(area);
      ctx.restore();
    }
    ctx.strokeStyle = "#cbd5e1";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x0 + pad, zero);
    ctx.lineTo(x0 + s - pad, zero);
    ctx.stroke();
    ctx.strokeStyle = COLORS.ink;
    ctx.lineWidth = s >= 30 ? 1.6 : 1.3;
    ctx.lineJoin = "round";
    ctx.stroke(curve);
    if (focusX != null && a != null && Number.isFinite(a)) {
      ctx.beginPath();
      ctx.arc(px(Math.max(lo, Math.min(lo + span, focusX))), py(a), s >= 30 ? 2.8 : 2.2, 0, 2 * Math.PI);
      ctx.fillStyle = "#fff";
      ctx.fill();
      ctx.strokeStyle = COLORS.ink;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
    ctx.restore();
  }
}

function line(ctx, A, B) {
  ctx.beginPath();
  ctx.moveTo(A.x, A.y);
  ctx.lineTo(B.x, B.y);
  ctx.stroke();
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function segDist(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy || 1)));
  const x = ax + t * dx - px, y = ay + t * dy - py;
  return Math.sqrt(x * x + y * y);
}
