// Setting a weight or a bias by hand, from the inspector: a field under the numbers (outside the inspector's
// re-rendered HTML, so that typing survives new frames), applied through PUT /api/sessions/{id}/weights between
// steps. The next forward pass uses the new value; mid-step and on a watching page the edit is refused, saying why.

import { fmt } from "./palette.js";

export const WEIGHT_LIMIT = 1e6; // the API's bound on |value|
const BETWEEN_STEPS = new Set(["ready", "updated"]);

/** What a selection edits: {layer, kind, row, col, name}, or null (an input neuron has no weights of its own). */
export function editTarget(sel) {
  if (!sel || sel.l < 1) return null;
  if (sel.kind === "edge") return { layer: sel.l, kind: "W", row: sel.j, col: sel.k, name: `w${sub(sel.j + 1)},${sub(sel.k + 1)} of layer ${sel.l}` };
  return { layer: sel.l, kind: "b", col: sel.k, name: `the bias b${sub(sel.k + 1)} of layer ${sel.l}` };
}

/** Why an edit cannot be made now (null: it can): a watching page, or a step between its phases. */
export function refusal({ viewer, runState }) {
  if (viewer) return "This page watches the teacher's run: only the teacher can change its weights.";
  if (runState && !BETWEEN_STEPS.has(runState)) {
    return "A weight can be changed between steps only: finish this step first (→ until its update), then set it.";
  }
  return null;
}

/** The typed value as a number, or the reason it is not one the API takes. */
export function parseValue(text) {
  const v = Number(String(text).trim().replace(/−/g, "-").replace(",", "."));
  if (String(text).trim() === "" || !Number.isFinite(v)) return { error: "Type a number, for example 0.5 or -1.2." };
  if (Math.abs(v) > WEIGHT_LIMIT) return { error: `Keep it between −${WEIGHT_LIMIT.toExponential(0)} and ${WEIGHT_LIMIT.toExponential(0)}.` };
  return { value: v };
}

export class WeightEditor {
  /**
   * form: the form element (with an input, a label and a message); put(target, value) sends the edit and resolves to
   * the new SessionState; applied(state) shows it; status() gives {viewer, runState}.
   */
  constructor(form, { put, applied, status }) {
    this.form = form;
    this.input = form.querySelector("input");
    this.label = form.querySelector("label span");
    this.msg = form.querySelector("output, .msg");
    this.put = put;
    this.applied = applied;
    this.status = status;
    this.target = null;
    form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
  }

  /** A new selection: the field shows what it edits, filled with the current value. */
  select(sel, current) {
    this.target = editTarget(sel);
    this.form.hidden = !this.target;
    if (!this.target) return;
    this.label.textContent = `Set ${this.target.name} to`;
    this.input.value = current == null ? "" : String(+current.toPrecision(6));
    this.say("", false);
    const why = this.status().viewer ? refusal({ viewer: true }) : null;
    this.input.disabled = !!why;
    this.form.querySelector("button").disabled = !!why;
    if (why) this.say(why, true);
  }

  /** The same selection with a new value (an edit, here or elsewhere): shown unless the field is being typed in. */
  refresh(current) {
    if (!this.target || document.activeElement === this.input || current == null) return;
    this.input.value = String(+current.toPrecision(6));
  }

  say(text, problem) {
    this.msg.textContent = text;
    this.msg.classList.toggle("problem", !!problem);
  }

  async submit() {
    if (!this.target) return;
    const parsed = parseValue(this.input.value);
    if (parsed.error) { this.say(parsed.error, true); return; }
    const why = refusal(this.status());
    if (why) { this.say(why, true); return; }
    const target = this.target;
    try {
      const state = await this.put(target, parsed.value);
      this.applied(state);
      this.say(`Done: ${target.name} is now ${fmt(parsed.value, 6)}; the next forward pass uses it.`, false);
    } catch (err) {
      this.say(err.code === "mid_step" ? refusal({ runState: "mid" }) : `Not set: ${err.message}`, true);
    }
  }
}

const SUBSCRIPT = "₀₁₂₃₄₅₆₇₈₉";
function sub(n) { return String(n).replace(/\d/g, (d) => SUBSCRIPT[d]); }
