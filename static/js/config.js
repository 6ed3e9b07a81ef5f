// The configuration panel and the URL that holds the whole run: short readable query keys, so that a link
// reproduces the same run from the same starting weights.

// The engine's config rules, from the server (GET /api/config): every field's default, and the hyperparameters the
// server changes without a reset (everything else starts a new run). loadConfigRules() fills them before use.
export const DEFAULTS = {};
export const LIVE_FIELDS = new Set();
/** The limits of custom_data (GET /api/limits), with the API's values as the fallback. */
export const CUSTOM_LIMITS = { max_custom_rows: 2000, min_custom_rows: 2, max_inputs: 64, max_classes: 10 };
const RULES = {};  // the whole answer: ranges (neurons of a layer), max_hidden_layers, hidden_layer (a new layer)
// a hidden layer's neurons (unbounded before the rules are loaded: a viewer's page does not load them)
const neuronRange = () => RULES.ranges?.neurons || { min: -Infinity, max: Infinity };

export async function loadConfigRules(get) {
  const rules = await get("GET", "/api/config");
  Object.assign(RULES, rules);
  Object.assign(DEFAULTS, rules.defaults);
  for (const field of rules.live_fields) LIVE_FIELDS.add(field);
  return rules;
}

const KEYS = {
  d: "dataset", ns: "n_samples", n: "noise", tr: "train_fraction", ds: "data_seed", f: "features", h: "hidden_layers",
  oa: "output_activation", lo: "loss", opt: "optimizer", lr: "learning_rate", bs: "batch_size", reg: "regularization",
  rr: "regularization_rate", init: "init", s: "seed",
};
const NUMERIC = new Set(["n_samples", "noise", "train_fraction", "data_seed", "learning_rate", "batch_size", "regularization_rate", "seed"]);

// how the page writes the engine's names; which features and activations there are is the server's (RULES.choices)
export const FEATURE_LABEL = {
  x1: "x₁", x2: "x₂", x1_sq: "x₁²", x2_sq: "x₂²", x1_x2: "x₁x₂", sin_x1: "sin x₁", sin_x2: "sin x₂",
};
const ACTIVATION_LABEL = { relu: "ReLU", leaky_relu: "leaky ReLU" };
/** [value, label] of each choice the server offers for `field` (none before the rules are loaded). */
const choices = (field, labels) => (RULES.choices?.[field] || []).map((v) => [v, labels[v] || v]);

/** The names of a run's input neurons (SessionState): its features on a 2-D data set, x for 1-D, none for images. */
export function inputLabelsOf(session) {
  const feats = session.config.features || ["x1", "x2"];
  if (session.input_dim === 2 && session.sizes[0] === feats.length) return feats.map((f) => FEATURE_LABEL[f] || f);
  return session.sizes[0] === 1 ? ["x"] : [];
}
/** The names of a run's output neurons: the classes of a multi-class data set ("0"…"9" for the digits), or none. */
export function outputLabelsOf(session) {
  const n = session.task === "classification" ? session.n_classes : 0;
  if (!(n > 2) || session.sizes[session.sizes.length - 1] !== n) return [];
  return Array.from({ length: n }, (_, k) => (n > 3 ? `${k}` : `class ${k}`));
}

const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
// the batch size slider's stops, up to the server's largest batch ("all")
const BATCH_STOPS = [1, 2, 5, 10, 20, 30, 50, 100];
const maxBatch = () => RULES.ranges?.batch_size?.max ?? 2000;
const batchSizes = () => [...BATCH_STOPS.filter((b) => b < maxBatch()), maxBatch()];

export function parseUrl(search) {
  const q = new URLSearchParams(search);
  const config = {};
  for (const [key, field] of Object.entries(KEYS)) {
    if (!q.has(key)) continue;
    const raw = q.get(key);
    if (field === "features") config.features = raw.split(",").filter(Boolean);
    else if (field === "hidden_layers") {
      config.hidden_layers = raw === "" || raw === "none" ? [] : raw.split(",").map((part) => {
        const [n, act] = part.split(":");
        return { neurons: parseInt(n, 10), activation: act || "tanh" };
      });
    } else if (NUMERIC.has(field)) {
      const v = Number(raw);
      if (Number.isFinite(v)) config[field] = v;
    } else config[field] = raw;
  }
  const ui = {};
  if (q.has("sp")) ui.speed = Number(q.get("sp"));
  if (q.has("preset")) ui.preset = q.get("preset");
  if (["dark", "light"].includes(q.get("theme"))) ui.theme = q.get("theme");
  if (/^[0-9a-f]{64}$/.test(q.get("data") || "")) ui.data = q.get("data"); // own data kept on the server (shared-data.js)
  return { config, ui };
}

export function toQuery(config, ui = {}) {
  const parts = [];
  for (const [key, field] of Object.entries(KEYS)) {
    const v = config[field];
    if (v === null || v === undefined) continue;
    let s;
    if (field === "features") s = v.join(",");
    else if (field === "hidden_layers") s = v.length ? v.map((h) => `${h.neurons}:${h.activation}`).join(",") : "none";
    else s = String(v);
    parts.push(`${key}=${encodeURIComponent(s).replace(/%2C/g, ",").replace(/%3A/g, ":")}`);
  }
  if (ui.speed != null) parts.push(`sp=${+ui.speed.toPrecision(3)}`);
  if (ui.theme) parts.push(`theme=${ui.theme}`);
  if (ui.data && config.dataset === "custom") parts.push(`data=${ui.data}`);
  return `?${parts.join("&")}`;
}

function options(select, list, value) {
  select.innerHTML = list.map(([v, label]) => `<option value="${v}">${label}</option>`).join("");
  if (value !== undefined) select.value = String(value);
}

/** Output activation and loss pairs that make sense for a task ("auto" lets the server choose). */
export function outputChoices(info) {
  if (!info || info.task === "regression") return [["auto", "linear + squared error (auto)"], ["sigmoid:mse", "sigmoid + squared error"]];
  if ((info.classes || 2) > 2) return [["auto", "softmax + cross-entropy (auto)"]];
  return [["auto", "sigmoid + cross-entropy (auto)"], ["sigmoid:mse", "sigmoid + squared error"], ["linear:mse", "linear + squared error"]];
}

export class ConfigPanel {
  constructor(onChange) {
    this.onChange = onChange;
    this.config = { ...DEFAULTS };
    this.datasets = []; // the server's (GET /api/datasets): setDatasets
    this.$ = (id) => document.getElementById(id);
    options(this.$("cfg-lr"), LEARNING_RATES.map((v) => [v, String(v)]));
    options(this.$("cfg-rr"), REG_RATES.map((v) => [v, String(v)]));
    this._bind();
  }

  setDatasets(list) {
    if (!Array.isArray(list)) return;
    this.datasets = list.filter((d) => d.name !== "custom").map((d) => ({ ...d, inputs: d.input_dim, classes: d.n_classes }));
    this.render();
  }

  info(name = this.config.dataset) {
    if (name === "custom") return this.custom; // the user's own data (static/js/own-data.js): set with the run
    return this.datasets.find((d) => d.name === name);
  }

  // Over 60 lines on purpose: the panel's event wiring, one listener per control, each a line or two; split up it would
  // only scatter the list of controls.
  _bind() {
    const $ = this.$;
    const change = (partial) => {
      const structural = Object.keys(partial).some((k) => !LIVE_FIELDS.has(k));
      Object.assign(this.config, partial);
      this.render();
      this.onChange(partial, structural);
    };
    this.change = change;
    $("cfg-dataset").addEventListener("change", (e) => {
      const info = this.info(e.target.value);
      const partial = { dataset: e.target.value, output_activation: null, loss: null };
      if (info && info.inputs !== 2) partial.features = null;
      else if (!this.config.features) partial.features = ["x1", "x2"];
      change(partial);
    });
    $("cfg-noise").addEventListener("input", (e) => { $("out-noise").textContent = e.target.value; });
    $("cfg-noise").addEventListener("change", (e) => change({ noise: Number(e.target.value) }));
    $("cfg-train").addEventListener("input", (e) => { $("out-train").textContent = `${Math.round(e.target.value * 100)}%`; });
    $("cfg-train").addEventListener("change", (e) => change({ train_fraction: Number(e.target.value) }));
    $("cfg-batch").addEventListener("input", (e) => { $("out-batch").textContent = batchLabel(batchSizes()[e.target.value]); });
    $("cfg-batch").addEventListener("change", (e) => change({ batch_size: batchSizes()[e.target.value] }));
    $("cfg-lr").addEventListener("change", (e) => change({ learning_rate: Number(e.target.value) }));
    $("cfg-rr").addEventListener("change", (e) => change({ regularization_rate: Number(e.target.value) }));
    $("cfg-opt").addEventListener("change", (e) => change({ optimizer: e.target.value }));
    $("cfg-reg").addEventListener("change", (e) => change({ regularization: e.target.value }));
    $("cfg-init").addEventListener("change", (e) => change({ init: e.target.value }));
    $("cfg-seed").addEventListener("change", (e) => {
      const v = Math.max(0, Math.min(2147483647, Math.floor(Number(e.target.value) || 0)));
      change({ seed: v });
    });
    $("cfg-output").addEventListener("change", (e) => {
      const v = e.target.value;
      if (v === "auto") change({ output_activation: null, loss: null });
      else { const [oa, lo] = v.split(":"); change({ output_activation: oa, loss: lo }); }
    });
    $("cfg-features").addEventListener("change", (e) => {
      const boxes = [...$("cfg-features").querySelectorAll("input")];
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!chosen.length) { e.target.checked = true; return; }
      change({ features: chosen });
    });
    $("btn-layer-add").addEventListener("click", () => {
      const h = this.config.hidden_layers;
      if (h.length >= RULES.max_hidden_layers) return;
      change({ hidden_layers: [...h, { ...(h[h.length - 1] || RULES.hidden_layer) }] });
    });
    $("btn-layer-remove").addEventListener("click", () => {
      const h = this.config.hidden_layers;
      if (h.length) change({ hidden_layers: h.slice(0, -1) });
    });
    $("layer-controls").addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-layer]");
      if (!btn) return;
      const l = Number(btn.dataset.layer), d = Number(btn.dataset.delta);
      const h = this.config.hidden_layers.map((x) => ({ ...x }));
      const range = neuronRange();
      const n = Math.max(range.min, Math.min(range.max, h[l].neurons + d));
      if (n === h[l].neurons) return;
      h[l].neurons = n;
      change({ hidden_layers: h });
    });
    $("layer-controls").addEventListener("change", (e) => {
      const sel = e.target.closest("select[data-layer]");
      if (!sel) return;
      const h = this.config.hidden_layers.map((x) => ({ ...x }));
      h[Number(sel.dataset.layer)].activation = sel.value;
      change({ hidden_layers: h });
    });
  }

  /** Shows `config` in the controls (without firing changes). */
  set(config) {
    this.config = { ...DEFAULTS, ...config };
    this.render();
  }

  render() {
    const $ = this.$, c = this.config;
    const own = c.dataset === "custom" ? [["custom", "Your own data"]] : [];
    options($("cfg-dataset"), [...this.datasets.map((d) => [d.name, d.title]), ...own], c.dataset);
    const info = this.info();
    $("cfg-noise").value = c.noise; $("out-noise").textContent = c.noise;
    $("cfg-train").value = c.train_fraction; $("out-train").textContent = `${Math.round(c.train_fraction * 100)}%`;
    const sizes = batchSizes();
    let bi = sizes.findIndex((b) => b >= c.batch_size);
    if (bi < 0) bi = sizes.length - 1;
    $("cfg-batch").max = String(sizes.length - 1);
    $("cfg-batch").value = bi;
    $("out-batch").textContent = batchLabel(c.batch_size);
    $("cfg-batch").setAttribute("aria-valuetext", batchLabel(c.batch_size));
    ensureOption($("cfg-lr"), c.learning_rate); $("cfg-lr").value = String(c.learning_rate);
    ensureOption($("cfg-rr"), c.regularization_rate); $("cfg-rr").value = String(c.regularization_rate);
    $("cfg-opt").value = c.optimizer;
    $("cfg-reg").value = c.regularization;
    $("cfg-rr").disabled = c.regularization === "none";
    $("cfg-init").value = c.init;
    $("cfg-seed").value = c.seed;
    const outs = outputChoices(info);
    options($("cfg-output"), outs);
    const pair = c.output_activation && c.loss ? `${c.output_activation}:${c.loss}` : "auto";
    $("cfg-output").value = outs.some(([v]) => v === pair) ? pair : "auto";
    const twoD = !info || info.inputs === 2;
    $("features-field").hidden = !twoD;
    const feats = c.features || ["x1", "x2"];
    $("cfg-features").innerHTML = choices("features", FEATURE_LABEL).map(([v, label]) =>
      `<label class="chip"><input type="checkbox" value="${v}" ${feats.includes(v) ? "checked" : ""}> ${label}</label>`).join("");
    $("layer-count-text").textContent = `${c.hidden_layers.length} hidden layer${c.hidden_layers.length === 1 ? "" : "s"}`;
    $("btn-layer-add").disabled = c.hidden_layers.length >= RULES.max_hidden_layers;
    $("btn-layer-remove").disabled = c.hidden_layers.length === 0;
    const noiseless = c.dataset === "digits" || c.dataset === "custom";
    $("cfg-noise").disabled = noiseless;
  }

  /** The layer cards above the hidden columns of the diagram, at the columns' x positions. */
  renderLayerControls(cols) {
    const box = this.$("layer-controls");
    const h = this.config.hidden_layers || [];  // none before the rules are loaded
    const range = neuronRange();
    if (!cols || cols.length !== h.length + 2) { box.innerHTML = ""; return; }
    const span = cols.length > 1 ? cols[1].x - cols[0].x : 120;
    const width = Math.max(44, Math.min(118, span - 6));
    box.classList.toggle("narrow", width < 90);
    box.innerHTML = h.map((layer, l) => `
      <div class="layer-card" style="left:${cols[l + 1].x}px;width:${width}px" role="group" aria-label="Hidden layer ${l + 1}">
        <div class="row">
          <button class="small" data-layer="${l}" data-delta="-1" aria-label="Fewer neurons in layer ${l + 1}" ${layer.neurons <= range.min ? "disabled" : ""}>&minus;</button>
          <span class="n" title="neurons">${layer.neurons}</span>
          <button class="small" data-layer="${l}" data-delta="1" aria-label="More neurons in layer ${l + 1}" ${layer.neurons >= range.max ? "disabled" : ""}>+</button>
        </div>
        <select data-layer="${l}" aria-label="Activation of layer ${l + 1}">
          ${choices("activation", ACTIVATION_LABEL).map(([v, t]) => `<option value="${v}" ${v === layer.activation ? "selected" : ""}>${t}</option>`).join("")}
        </select>
      </div>`).join("");
  }

  /** The full config to send when a new run starts (auto fields left out so the server pairs them). */
  request() {
    const c = { ...this.config };
    for (const k of ["output_activation", "loss", "features", "custom_data"]) if (c[k] == null) delete c[k];
    if (c.dataset !== "custom") delete c.custom_data;
    const info = this.info();
    if (info && info.inputs !== 2) delete c.features;
    return c;
  }
}

function batchLabel(b) { return b >= maxBatch() ? "all" : String(b); }

function ensureOption(select, v) {
  if (![...select.options].some((o) => Number(o.value) === Number(v))) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = String(v);
    select.appendChild(o);
  }
}
