// Lessons in the browser: loading one (built-in by id, or a teacher's JSON file by URL, checked by the server's
// validator), and the player that shows each step's text, performs its actions and runs its exercise.
//
//   import { loadLesson, LessonPlayer } from "/static/js/embed/lesson.js";
//   const lesson = await loadLesson({ id: "chain-rule" });          // or { url: "https://.../my-lesson.json" }
//   new LessonPlayer(element, lesson, controller).show(0);
//
// `controller` performs actions on the run (the embed's, or any object with the same methods):
//   reset(seed, data_seed), setConfig(config, reset), step(count), stepPhase(until), play(), pause(),
//   playUntil(step, steps_per_second), setSpeed(sps), highlight(target|null), exercise(ex) -> result,
//   and optionally showViews(views): what the step shows besides the lesson's panels (its "show").
// Each returns a promise; the player waits for one action before the next.

import { renderText, escapeHtml } from "./text.js";

export class LessonLoadError extends Error {}

async function fetchJson(url, what) {
  let res;
  try { res = await fetch(url, { headers: { Accept: "application/json" } }); } catch {
    throw new LessonLoadError(`${what} could not be fetched from ${url}: the server is unreachable, or it does not allow this site to read it (CORS)`);
  }
  const text = await res.text();
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try { msg = JSON.parse(text).detail.message || msg; } catch { /* not JSON */ }
    throw new LessonLoadError(`${what}: ${msg}`);
  }
  try { return JSON.parse(text); } catch (e) { throw new LessonLoadError(`${what} at ${url} is not valid JSON (${e.message})`); }
}

/** A built-in lesson ({id}) or a teacher's own ({url}), validated by the server (docs/LESSONS.md). */
export async function loadLesson({ id = null, url = null } = {}) {
  if (id) return fetchJson(`/api/lessons/${encodeURIComponent(id)}`, `The lesson "${id}"`);
  if (!url) throw new LessonLoadError("no lesson given");
  const resolved = new URL(url, location.href);
  if (!["http:", "https:"].includes(resolved.protocol)) throw new LessonLoadError(`lesson_url must be an http(s) address, not ${url}`);
  const data = await fetchJson(resolved.href, "The lesson file");
  const res = await fetch("/api/lessons/validate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const errors = body?.detail?.errors || [body?.detail?.message || `HTTP ${res.status}`];
    throw new LessonLoadError(`The lesson file ${resolved.href} has ${errors.length} problem${errors.length === 1 ? "" : "s"}:\n${errors.join("\n")}`);
  }
  return body.lesson;
}

export class LessonPlayer {
  constructor(el, lesson, controller, { onChange } = {}) {
    this.el = el;
    this.lesson = lesson;
    this.ctl = controller;
    this.onChange = onChange || (() => {});
    this.index = -1;
    this.running = false;
    this.results = [];
    el.classList.add("lesson");
    el.innerHTML = `
      <header class="lesson-head">
        <span class="lesson-title">${escapeHtml(lesson.title)}</span>
        <span class="lesson-count" aria-live="polite"></span>
      </header>
      <h2 class="lesson-step-title"></h2>
      <div class="lesson-text"></div>
      <p class="lesson-status" role="status"></p>
      <nav class="lesson-nav">
        <button type="button" class="lesson-back">Back</button>
        <button type="button" class="lesson-again" title="Run this step's actions again">Run again</button>
        <button type="button" class="lesson-next primary">Next</button>
      </nav>`;
    this.$ = (sel) => el.querySelector(sel);
    this.$(".lesson-back").addEventListener("click", () => this.show(this.index - 1));
    this.$(".lesson-next").addEventListener("click", () => this.show(this.index + 1));
    this.$(".lesson-again").addEventListener("click", () => this.show(this.index, { again: true }));
  }

  get step() { return this.lesson.steps[this.index]; }

  /** Shows step i and performs its actions (Back shows a step's text without running it again). */
  async show(i, { again = false } = {}) {
    if (this.running || i < 0 || i >= this.lesson.steps.length) return;
    const forward = i > this.index || again;
    this.index = i;
    const step = this.step;
    this.$(".lesson-count").textContent = `${i + 1} / ${this.lesson.steps.length}`;
    this.$(".lesson-step-title").textContent = step.title || "";
    this.$(".lesson-step-title").hidden = !step.title;
    this.$(".lesson-text").innerHTML = renderText(step.text);
    this.$(".lesson-status").textContent = "";
    this.ctl.showViews?.(step.show || []);
    this._nav();
    this.onChange({ index: i, steps: this.lesson.steps.length, title: step.title || null, id: this.lesson.id });
    if (!forward) return;
    this.running = true;
    this._nav();
    const status = (t) => { this.$(".lesson-status").textContent = t; };
    try {
      for (const action of step.actions || []) await this.perform(action);
      status("");
      if (step.exercise) {
        this.$(".lesson-status").textContent = "Your turn: answer below.";
        const r = await this.ctl.exercise(step.exercise);
        this.results[i] = r;
        this.$(".lesson-status").textContent = r.skipped ? "Answer shown." : r.correct ? "Well done." : "Compare your steps with the numbers above.";
      }
    } catch (err) {
      this.$(".lesson-status").textContent = `This step could not run: ${err.message}`;
    } finally {
      this.running = false;
      this._nav();
    }
  }

  _nav() {
    const last = this.index >= this.lesson.steps.length - 1;
    this.$(".lesson-back").disabled = this.running || this.index <= 0;
    this.$(".lesson-next").disabled = this.running || last;
    this.$(".lesson-again").disabled = this.running || !((this.step.actions || []).length || this.step.exercise);
    this.$(".lesson-next").textContent = last ? "The end" : "Next";
    this.el.dataset.running = String(this.running);
  }

  async perform(a) {
    const c = this.ctl;
    const status = (t) => { this.$(".lesson-status").textContent = t; };
    switch (a.do) {
      case "reset": status("Resetting the weights…"); return c.reset(a.seed ?? null, a.data_seed ?? null);
      case "set_config": status("Changing the setup…"); return c.setConfig(a.config, !!a.reset);
      case "step": status(`Running ${a.count || 1} step${(a.count || 1) === 1 ? "" : "s"}…`); return c.step(a.count || 1);
      case "step_phase": return c.stepPhase(a.until || null);
      case "play": return c.play();
      case "pause": return c.pause();
      case "play_until": status(`Training until step ${a.step}…`); return c.playUntil(a.step, a.steps_per_second || null);
      case "set_speed": return c.setSpeed(a.steps_per_second);
      case "highlight": return c.highlight(a.neuron || a.weight || null);
      default: throw new Error(`unknown action ${a.do}`);
    }
  }
}
