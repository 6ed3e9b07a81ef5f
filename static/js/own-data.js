// "Your own data": the form in the data panel that reads a CSV (uploaded or pasted), says what it found or the row
// and column of the first bad cell, and hands the API's custom_data to the page.

import { CUSTOM_LIMITS } from "./config.js";
import { parseCsv, splitCsv, limitsText, loadPapa, CsvError } from "./csv.js";

export class OwnDataForm {
  /** use(parsed) starts a run on the data (parsed: what parseCsv returns) and resolves once it is asked for. */
  constructor({ use }) {
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    this.use = use;
    this.limits = { ...CUSTOM_LIMITS };
    this.columns = null;
    $("csv-help").textContent = `Numeric columns, ${limitsText(this.limits)}; a header row is recognised.`;
    $("csv-file").addEventListener("change", () => this.readFile());
    let timer = null;
    $("csv-text").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => this.preview(), 300); });
    $("csv-task").addEventListener("change", () => this.preview());
    $("csv-label").addEventListener("change", () => this.preview());
    $("csv-use").addEventListener("click", () => this.submit());
    $("csv-use").disabled = false; // the page's button waits for this module
    // the CSV reader comes when the form is first opened, not with the page
    $("own-data").addEventListener("toggle", (e) => { if (e.target.open) loadPapa().catch(() => {}); });
    if ($("own-data").open) loadPapa().catch(() => {});
    // made as the form opened (app.js loads this module then): what was typed or chosen meanwhile is read now
    if ($("csv-file").files.length) this.readFile(); else if ($("csv-text").value) this.preview();
  }

  /** The server's limits (GET /api/limits) replace the defaults. */
  setLimits(l) {
    if (!l) return;
    for (const k of Object.keys(CUSTOM_LIMITS)) if (typeof l[k] === "number") this.limits[k] = l[k];
    if (typeof l.max_inputs === "number") this.limits.max_inputs = l.max_inputs;
    this.$("csv-help").textContent = `Numeric columns, ${limitsText(this.limits)}; a header row is recognised.`;
  }

  async readFile() {
    const file = this.$("csv-file").files[0];
    if (!file) return;
    const most = 64 * this.limits.max_custom_rows * 24; // far more than the largest data set allowed
    if (file.size > most) { this.say(`That file is ${Math.round(file.size / 1024)} kB: too large for ${limitsText(this.limits)}.`, "error"); return; }
    this.$("csv-text").value = await file.text();
    this.preview();
  }

  say(text, kind = "") {
    const msg = this.$("csv-msg");
    msg.textContent = text;
    msg.dataset.kind = kind;
  }

  /** The label column's choices follow the CSV's columns (named by its header when it has one). */
  _columns(text) {
    let split;
    try { split = splitCsv(text); } catch { return; }
    const names = split.header || (split.rows[0] || []).map((_, c) => `column ${c + 1}`);
    const key = names.join("\u0000");
    if (key === this.columns) return;
    this.columns = key;
    const sel = this.$("csv-label");
    sel.innerHTML = "";
    names.forEach((n, c) => {
      const o = document.createElement("option");
      o.value = String(c);
      o.textContent = c === names.length - 1 ? `${n} (last)` : n;
      sel.appendChild(o);
    });
    sel.value = String(names.length - 1);
  }

  parse() {
    const text = this.$("csv-text").value;
    this._columns(text);
    const label = this.$("csv-label").value === "" ? null : Number(this.$("csv-label").value);
    return parseCsv(text, { label, task: this.$("csv-task").value, limits: this.limits });
  }

  async preview() {
    if (!this.$("csv-text").value.trim()) { this.say(""); return null; }
    try {
      await loadPapa();
      const p = this.parse();
      this.say(describe(p));
      return p;
    } catch (err) {
      this.say(err instanceof CsvError ? err.message : `The CSV could not be read: ${err.message}`, "error");
      return null;
    }
  }

  async submit() {
    const p = await this.preview();
    if (!p) {
      if (!this.$("csv-text").value.trim()) this.say("Paste rows of numbers, or upload a CSV file, first.", "error");
      return;
    }
    this.say(`${describe(p)} Starting a run on it…`);
    try {
      await this.use(p);
      this.say(`${describe(p)} The run now trains on it.`);
    } catch (err) {
      this.say(`The server refused this data: ${err.message}`, "error");
    }
  }
}

/** What a parsed CSV holds, in a sentence. */
export function describe(p) {
  const { x, y, task } = p.custom;
  const what = task === "classification"
    ? `${p.classes.length} classes (${p.classes.map((c, k) => (c === k ? `${k}` : `${c} → ${k}`)).join(", ")})`
    : `a numeric target (${p.labelName})`;
  return `${y.length} rows, ${x[0].length} input${x[0].length === 1 ? "" : "s"}, ${what}.`;
}
