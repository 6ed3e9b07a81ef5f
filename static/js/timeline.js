// Turns step frames into what the diagram shows at a given moment: which phase, how far through it, and how
// far each layer has been reached. In slow motion every phase of a step plays in turn; at high speed the
// timeline gives way to a live view of the latest frame.

import { PHASES } from "./frame.js";

// above this speed there is no phase animation, only the live view
export const SLOW_MOTION_MAX = 4;

// share of a step's time each phase takes in slow motion
const PHASE_WEIGHT = { forward: 0.34, loss: 0.14, backward: 0.34, update: 0.18 };

export class Timeline {
  // its state is its own: the controller and the views go through the methods and getters below
  #frame = null;      // frame being shown
  #queue = [];        // at most one frame waiting for the current animation to end: [{frame, stepDuration}]
  #segments = [];     // [{phase, start, duration}] of the current animation
  #live = false;
  #manual = null;     // {phase, layers, steps}: layer-by-layer reveal driven by the user
  #lastAnimated = null; // {step, phaseIndex} animated most recently

  /** The frame being shown (null before the first). */
  get frame() { return this.#frame; }
  /** Whether the live view is on (no phase animation). */
  get live() { return this.#live; }

  setLive(live) {
    this.#live = live;
    if (live) { this.#queue = []; this.#segments = []; this.#manual = null; }
  }

  /** A new frame arrived. `stepDuration` is how long a whole step animates for (ms). */
  push(frame, now, stepDuration) {
    if (this.#live || frame.diverged) {
      this.show(frame);
      return;
    }
    if (this.animating(now)) {
      this.#queue = [{ frame, stepDuration }];
      return;
    }
    this.#start(frame, now, stepDuration);
  }

  #start(frame, now, stepDuration) {
    const last = PHASES.indexOf(frame.phase);
    let first = 0;
    if (this.#lastAnimated && this.#lastAnimated.step === frame.step) first = this.#lastAnimated.phaseIndex + 1;
    if (first > last) first = last;
    this.#frame = frame;
    this.#manual = null;
    this.#segments = [];
    let t = now;
    for (let i = first; i <= last; i++) {
      const phase = PHASES[i];
      const duration = Math.max(stepDuration * PHASE_WEIGHT[phase], phase === "loss" || phase === "update" ? 120 : 200);
      this.#segments.push({ phase, start: t, duration });
      t += duration;
    }
    this.#lastAnimated = { step: frame.step, phaseIndex: last };
  }

  /** Show a frame at once, its phase complete (a new run's weights, a page joining a run mid-way). */
  show(frame) {
    this.#frame = frame;
    this.#segments = [];
    this.#queue = [];
    this.#manual = null;
    this.#lastAnimated = { step: frame.step, phaseIndex: PHASES.indexOf(frame.phase) };
  }

  /** Play every phase of `frame` from its forward pass, whatever was shown before (a past step brought back). */
  replay(frame, now, stepDuration) {
    this.setLive(false);
    this.#lastAnimated = null;
    this.#queue = [];
    this.#start(frame, now, stepDuration);
  }

  /** Nothing shown any more. */
  clear() {
    this.#frame = null;
    this.#segments = [];
    this.#queue = [];
    this.#manual = null;
    this.#lastAnimated = null;
  }

  /**
   * The frame of the step and phase already shown or waiting, at another detail (a subscription changed it):
   * it takes the old one's place without animating again. Returns false for a frame of another step or phase.
   */
  refresh(frame) {
    const same = (f) => !!f && f.step === frame.step && f.phase === frame.phase;
    if (this.#queue.length) {
      if (!same(this.#queue[0].frame)) return false;
      this.#queue[0].frame = frame;
      return true;
    }
    if (!same(this.#frame)) return false;
    this.#frame = frame;
    return true;
  }

  /** The layer-by-layer reveal in progress ({step, phase, layers, of}), or null. */
  get reveal() {
    if (!this.#manual || !this.#frame) return null;
    return { step: this.#frame.step, phase: this.#manual.phase, layers: this.#manual.layers, of: this.#manual.steps };
  }

  /**
   * Reveal `layers` layers of a step's phase, as a presenter's page does (its frame shown or waiting).
   * Returns false if neither is that step's frame at that phase.
   */
  revealTo({ step, phase, layers }) {
    const waiting = this.#queue.find((q) => q.frame.step === step && q.frame.phase === phase);
    const frame = waiting ? waiting.frame : this.#frame;
    if (!frame || frame.step !== step || frame.phase !== phase) return false;
    this.startManual(frame);
    this.#manual.layers = Math.min(layers, this.#manual.steps);
    return true;
  }

  animating(now) {
    const s = this.#segments[this.#segments.length - 1];
    return !!s && now < s.start + s.duration;
  }

  /** Call every animation frame: starts a queued frame once the current animation has ended. */
  tick(now) {
    if (!this.animating(now) && this.#queue.length) {
      const { frame, stepDuration } = this.#queue.shift();
      this.#start(frame, now, stepDuration);
    }
  }

  /**
   * Reveal one more layer of the current phase (client side). Returns false when the phase is already fully
   * shown, in which case the caller asks the server for the next phase and then calls startManual().
   */
  revealLayer(now) {
    const view = this.view(now);
    if (!this.#frame || view.phase === "live" || view.phase === "idle") return false;
    const steps = revealSteps(view.phase, this.#frame);
    const shown = this.#manual && this.#manual.phase === view.phase ? this.#manual.layers : Math.floor(view.t * steps + 1e-9);
    if (shown >= steps) return false;
    this.#segments = [];
    this.#queue = [];
    this.#manual = { phase: view.phase, layers: shown + 1, steps };
    return true;
  }

  /** The next frame (one phase) arrives and is to be revealed one layer at a time from its first layer. */
  startManual(frame) {
    this.show(frame);
    this.#manual = { phase: frame.phase, layers: 1, steps: revealSteps(frame.phase, frame) };
  }

  /**
   * What to draw now: {frame, phase, t, done, reveal(l)}.
   * phase: forward | loss | backward | update | live | idle; t: progress 0..1 inside the phase;
   * done: how many phases of this step are complete (0..4); reveal(l) for l = 0..L: how far the phase has
   * reached layer l (0..1).
   */
  view(now) {
    const frame = this.#frame;
    if (!frame) return { frame: null, phase: "idle", t: 0, done: 0, reveal: () => 0 };
    if (this.#live) return { frame, phase: "live", t: 1, done: 4, reveal: () => 1 };
    let phase, t;
    if (this.#manual) {
      phase = this.#manual.phase;
      t = this.#manual.layers / this.#manual.steps;
    } else if (this.#segments.length) {
      let seg = this.#segments[this.#segments.length - 1];
      for (const s of this.#segments) { if (now < s.start + s.duration) { seg = s; break; } }
      phase = seg.phase;
      t = Math.min(1, Math.max(0, (now - seg.start) / seg.duration));
    } else {
      phase = frame.phase;
      t = 1;
    }
    const done = PHASES.indexOf(phase) + (t >= 1 ? 1 : 0);
    const L = frame.layers.length;
    const cursor = t * L;
    let reveal;
    if (phase === "forward") reveal = (l) => (l === 0 ? 1 : clamp01(cursor - (l - 1)));
    else if (phase === "backward") reveal = (l) => (l === 0 ? 0 : clamp01(cursor - (L - l)));
    else reveal = () => 1;
    return { frame, phase, t, done, reveal };
  }
}

/** A phase is revealed over L columns (forward, backward) or at once (loss, update). */
const revealSteps = (phase, frame) => (phase === "loss" || phase === "update" ? 1 : frame.layers.length);

function clamp01(v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/**
 * Whether the step the view shows is under way: from its forward pass until its update has been applied (not in
 * the live view, nor before the first phase of a run).
 */
export function stepInProgress(view) {
  return !!view.frame && view.phase !== "live" && view.frame.phase != null && view.done < 4;
}

/**
 * The last step whose update the view shows applied: the step shown once its update is done, the one before it
 * while it is under way, and in the live view every step that has arrived (Infinity).
 */
export function settledStep(view) {
  if (view.phase === "live") return Infinity;
  if (!view.frame) return -1;
  const step = view.frame.step || 0;
  return stepInProgress(view) ? step - 1 : step;
}
