// The exercise card: asks for a value, takes the student's answer, reveals the server's number and the error.
// The logic (positions, givens, truth, grading) is in exercise.js; this is its DOM.

import { phaseOf, positionPlan, givensOf, truthOf, parseAnswer, grade, describe, DEFAULT_TOLERANCE } from "./exercise.js";
import { escapeHtml, renderText, showNumber } from "./text.js";

export class ExerciseCard {
  constructor(el, { onHighlight } = {}) {
    this.el = el;
    this.onHighlight = onHighlight || (() => {});
  }

  /**
   * Runs one exercise. `ctx`: {state, kept, config, stepTo(phase, hold) -> full frame, latestFull(),
   * rewind(phase): the views show the step as it was before that phase until release(), release(),
   * showAt({step, phase, held})}: what the header says while the card is open.
   * Resolves with {ask, target, step, answer, truth, abs_error, rel_error, correct, skipped} once the student continues.
   */
  async run(ex, ctx) {
    const plan = positionPlan(ex.ask, ctx.state, ctx.kept);
    let frame = null;
    for (let i = 0; i < plan.calls.length; i++) frame = await ctx.stepTo(plan.calls[i], plan.hold && i === plan.calls.length - 1);
    if (plan.reuse) ctx.rewind(phaseOf(ex.ask));
    frame = frame || ctx.latestFull();
    if (!frame || !frame.layers?.[0]?.a) throw new Error("no full frame to ask about: step once, then try again");
    const held = plan.hold || plan.reuse;
    ctx.showAt({ step: frame.step, phase: phaseOf(ex.ask), held, frame, sample: Number.isInteger(ex.sample) ? ex.sample : null });
    const givens = givensOf(ex, frame, { loss: ctx.config.loss, optimizer: ctx.config.optimizer });
    if (ex.target) this.onHighlight(ex.target);
    const tolerance = ex.tolerance || DEFAULT_TOLERANCE;
    this.sampleNote = ctx.sampleNote || "";
    const answer = await this._ask(ex, frame, givens, held);
    const truthFrame = plan.after ? await ctx.stepTo(plan.after, false) : frame;
    ctx.release();
    const truth = truthOf(ex, truthFrame);
    let result = { ask: ex.ask, target: ex.target || null, step: truthFrame.step, answer: null, truth, abs_error: null,
      rel_error: null, correct: false, skipped: true };
    if (answer !== null) {
      const g = grade(answer, truth, ex.ask, tolerance);
      result = { ...result, answer, abs_error: g.absError, rel_error: Number.isFinite(g.relError) ? g.relError : null,
        correct: g.correct, skipped: false };
    }
    await this._reveal(ex, result, tolerance);
    this._close();
    return result;
  }

  _ask(ex, frame, givens, held) {
    const sign = ex.ask === "dW_sign";
    const sample = Number.isInteger(ex.sample) ? ex.sample : frame.focus_index || 0;
    const who = ex.ask === "loss" ? "the whole batch" : `sample ${sample} of the batch${this.sampleNote ? ` (${this.sampleNote})` : ""}`;
    const when = held ? `Step ${frame.step}, ${who}: the ${phaseOf(ex.ask)} phase has run; its answer is hidden.`
      : `Step ${frame.step}, ${who}: stopped before the ${phaseOf(ex.ask)} phase.`;
    this.el.hidden = false;
    this.el.innerHTML = `
      <div class="ex-head"><span class="ex-kind">Predict: ${escapeHtml(describe(ex.ask))}</span><span class="ex-when">${escapeHtml(when)}</span></div>
      <div class="ex-prompt">${renderText(ex.prompt)}</div>
      <dl class="ex-givens">${givens.map((g) => `<dt>${escapeHtml(g.symbol)}</dt><dd>${showNumber(g.value)}</dd>`).join("")}</dl>
      <form class="ex-form" novalidate>
        ${sign ? `<div class="ex-sign" role="radiogroup" aria-label="Direction of the change">
            <label><input type="radio" name="sign" value="up"> goes up</label>
            <label><input type="radio" name="sign" value="down"> goes down</label>
            <label><input type="radio" name="sign" value="0"> stays</label></div>`
          : `<label class="ex-label">Your answer <input class="ex-input" name="answer" inputmode="decimal" autocomplete="off" spellcheck="false" aria-label="Your answer"></label>`}
        <button type="submit" class="primary ex-submit">Check</button>
        <button type="button" class="ex-skip">Show me</button>
        ${ex.hint ? `<button type="button" class="ex-hint-btn">Hint</button>` : ""}
        <p class="ex-msg" role="status"></p>
        ${ex.hint ? `<div class="ex-hint" hidden>${renderText(ex.hint)}</div>` : ""}
      </form>`;
    const form = this.el.querySelector("form");
    const input = this.el.querySelector(".ex-input");
    if (input) input.focus({ preventScroll: true });
    this.el.querySelector(".ex-hint-btn")?.addEventListener("click", () => { this.el.querySelector(".ex-hint").hidden = false; });
    return new Promise((resolve) => {
      this.el.querySelector(".ex-skip").addEventListener("click", () => resolve(null));
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const raw = sign ? form.querySelector("input[name=sign]:checked")?.value : input.value;
        const v = parseAnswer(raw, ex.ask);
        if (v === null) {
          this.el.querySelector(".ex-msg").textContent = sign ? "Choose one of the three." : "Write a number, such as -0.25 or 1.5e-3.";
          return;
        }
        resolve(v);
      });
    });
  }

  _reveal(ex, r, tol) {
    const box = this.el.querySelector(".ex-msg");
    const form = this.el.querySelector("form");
    form.querySelectorAll("input, .ex-submit, .ex-skip, .ex-hint-btn").forEach((x) => { x.disabled = true; });
    const signWord = (v) => (v > 0 ? "up" : v < 0 ? "down" : "stays");
    const truth = ex.ask === "dW_sign" ? signWord(r.truth) : showNumber(r.truth);
    const yours = r.skipped ? "" : ex.ask === "dW_sign" ? signWord(r.answer) : showNumber(r.answer);
    const err = ex.ask === "dW_sign" || r.skipped ? "" :
      `<div class="ex-err">Absolute error <b class="ex-abs">${showNumber(r.abs_error)}</b>, relative error <b class="ex-rel">${r.rel_error == null ? "—" : `${showNumber(100 * r.rel_error)} %`}</b>
       (tolerance: ${[tol.abs != null ? `±${showNumber(tol.abs)}` : null, tol.rel != null ? `${showNumber(100 * tol.rel)} %` : null].filter(Boolean).join(" or ")}).</div>`;
    box.innerHTML = `
      <div class="ex-result ${r.skipped ? "shown" : r.correct ? "ok" : "off"}">
        <div>The server computed <b class="ex-truth" data-value="${r.truth}">${truth}</b>${r.skipped ? "." : `; you said <b class="ex-yours">${yours}</b>.
        <span class='ex-verdict'>${ex.ask === "dW_sign" ? (r.correct ? "Right ✓" : "Not right ✗") : r.correct ? "Within tolerance ✓" : "Not within tolerance ✗"}</span>`}</div>${err}
      </div>
      ${ex.explain ? `<div class="ex-explain">${renderText(ex.explain)}</div>` : ""}
      <button type="button" class="primary ex-continue">Continue</button>`;
    return new Promise((resolve) => {
      const btn = box.querySelector(".ex-continue");
      btn.focus({ preventScroll: true });
      btn.addEventListener("click", () => resolve());
    });
  }

  _close() { this.el.hidden = true; this.el.innerHTML = ""; }
}
