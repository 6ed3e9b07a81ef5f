// The metrics messages of the last steps (loss and accuracy on the whole train and test sets after a step), kept
// by step so that the numbers shown can wait for the animation: in slow motion a step's metrics arrive with its
// frame, while the diagram is still showing the step before.

const KEEP = 64;

export class MetricsLog {
  constructor() { this.entries = []; }

  /** A new run, or the same run from another step: `metrics` (may be null) is what is known at its start. */
  reset(metrics = null) {
    this.entries = [];
    if (metrics) this.add(metrics);
  }

  /** Metrics after step m.step; a repeated or earlier step (after a reset) replaces the entries from it on. */
  add(m) {
    if (!m || m.step == null) return;
    const e = this.entries;
    while (e.length && e[e.length - 1].step >= m.step) e.pop();
    e.push(m);
    if (e.length > KEEP) e.splice(0, e.length - KEEP);
  }

  get latest() { return this.entries[this.entries.length - 1] || null; }

  /** The metrics of the latest step at or before `step` (Infinity: the latest), or null. */
  at(step) {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].step <= step) return this.entries[i];
    return null;
  }
}
