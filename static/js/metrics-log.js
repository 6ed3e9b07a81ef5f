// Messages that describe the network after a step (metrics: loss and accuracy on the whole train and test sets;
// boundaries: the output over the input plane; a step's gradient norms), kept by step so that what is shown can
// wait for the animation: in slow motion a step's messages arrive with its frame, while the diagram is still
// showing the step before.

const KEEP = 64;

export class StepLog {
  constructor() { this.reset(); }

  /** A new run, or the same run from another step: `first` (may be null) is what is known at its start. */
  reset(first = null) {
    this.entries = [];
    this.taken = -Infinity; // the step of the last entry handed out by take()
    if (first) this.add(first);
  }

  /** The message after step m.step; a repeated or earlier step (after a reset) replaces the entries from it on. */
  add(m) {
    if (!m || m.step == null) return;
    const e = this.entries;
    while (e.length && e[e.length - 1].step >= m.step) e.pop();
    e.push(m);
    if (e.length > KEEP) e.splice(0, e.length - KEEP);
    if (m.step <= this.taken) this.taken = m.step - 1; // to be taken again
  }

  get latest() { return this.entries[this.entries.length - 1] || null; }

  /** The message of the latest step at or before `step` (Infinity: the latest), or null. */
  at(step) {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].step <= step) return this.entries[i];
    return null;
  }

  /** The messages not taken yet up to step `upTo`, oldest first, for a view that shows every step (a chart). */
  take(upTo) {
    const out = this.entries.filter((m) => m.step > this.taken && m.step <= upTo);
    if (out.length) this.taken = out[out.length - 1].step;
    return out;
  }

  /** Forgets what a later message at or before `step` supersedes; at(step) and the later steps stay. */
  forgetBefore(step) {
    let i = this.entries.length - 1;
    while (i >= 0 && this.entries[i].step > step) i--;
    if (i > 0) this.entries.splice(0, i);
  }
}
