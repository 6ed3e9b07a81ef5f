// "Try from here": from a past step shown by the timeline, a new run (POST /api/sessions/{id}/branch) starting from
// that step's exact state with other hyperparameters. The form offers the fields a branch may change (those that
// change live); the page then follows the new run and draws its loss over the run it came from.

const FIELDS = {
  learning_rate: { id: "br-lr", number: true, choices: "cfg-lr" },
  optimizer: { id: "br-opt" },
  batch_size: { id: "br-batch", number: true },
  regularization: { id: "br-reg" },
  regularization_rate: { id: "br-rr", number: true, choices: "cfg-rr" },
};
const OPTIMIZER_NAMES = { sgd: "SGD", momentum: "momentum", adam: "Adam" };

/** A short name for a run's training settings, for a legend: "lr 0.03, SGD". */
export function settingsName(c) {
  const parts = [`lr ${c.learning_rate}`, OPTIMIZER_NAMES[c.optimizer] || c.optimizer];
  if (c.regularization && c.regularization !== "none") parts.push(`${c.regularization.toUpperCase()} ${c.regularization_rate}`);
  return parts.join(", ");
}

/** The hyperparameters of `changes` that differ from `config` (what a branch changes). */
export function changedFrom(config, changes) {
  const out = {};
  for (const [k, v] of Object.entries(changes)) if (config[k] !== v) out[k] = v;
  return out;
}

export class BranchForm {
  /**
   * form: the <form>; toggle: the button that opens it; maxBatch: the API's batch limit; start(step, changes)
   * creates the branch and resolves once the page follows it (it throws with the server's message otherwise).
   */
  constructor(form, toggle, { maxBatch, start }) {
    this.form = form;
    this.toggle = toggle;
    this.start = start;
    this.step = null;
    this.base = null;
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    if (maxBatch) $("br-batch").max = String(maxBatch); // else the page's own (the server's limit, in the template)
    toggle.addEventListener("click", () => (form.hidden ? this.opened() : this.close()));
    $("branch-cancel").addEventListener("click", () => { this.close(); toggle.focus(); });
    $("br-reg").addEventListener("change", () => { $("br-rr").disabled = $("br-reg").value === "none"; });
    form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    this.ask = () => null; // set by the page: {step, config} of the past step shown
  }

  /** Opens the form for the past step shown, its fields set to the settings that step ran with. */
  opened() {
    const at = this.ask();
    if (!at) return;
    this.open(at.step, at.config);
  }

  open(step, config) {
    const $ = this.$;
    this.step = step;
    this.base = config;
    $("branch-step").textContent = String(step);
    for (const [key, f] of Object.entries(FIELDS)) {
      const el = $(f.id);
      if (f.choices && el.options.length === 0) {
        for (const o of $(f.choices).options) el.appendChild(o.cloneNode(true));
      }
      const value = String(config[key]);
      if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === value)) {
        const o = document.createElement("option");
        o.value = value; o.textContent = value;
        el.appendChild(o);
      }
      el.value = value;
    }
    $("br-rr").disabled = config.regularization === "none";
    $("branch-msg").textContent = "";
    this.form.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    $("br-lr").focus();
  }

  close() {
    this.form.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
  }

  /** The form's values, as the API takes them. */
  values() {
    const out = {};
    for (const [key, f] of Object.entries(FIELDS)) {
      const raw = this.$(f.id).value;
      out[key] = f.number ? Number(raw) : raw;
    }
    return out;
  }

  async submit() {
    const msg = this.$("branch-msg");
    const values = this.values();
    const batch = values.batch_size;
    const max = Number(this.$("br-batch").max);
    if (!Number.isInteger(batch) || batch < 1 || batch > max) {
      msg.textContent = `Batch size: a whole number from 1 to ${max}.`;
      this.$("br-batch").focus();
      return;
    }
    msg.textContent = `Starting a new run from step ${this.step}…`;
    try {
      await this.start(this.step, changedFrom(this.base, values));
      this.close();
    } catch (err) {
      msg.textContent = `The new run could not start: ${err.message}`;
    }
  }
}
