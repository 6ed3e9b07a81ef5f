// The timeline under the charts: a slider over the run's completed steps. Dragged back, it asks the server for the
// frame of the step it points at (GET /api/sessions/{id}/steps/{n}?detail=full, replayed there from a checkpoint);
// at its right end it is live again. While it is dragged the requests wait for it to rest (the server limits each
// address's requests and prices each replay), only one is on its way at a time, and the latest step wins.

const SETTLE_MS = 220; // a drag that rests this long asks for its step
const KEY_MS = 120; // a key press (the slider's "change") waits this long for the next one: a key held down repeats
const CACHE_SIZE = 64; // frames kept, so that going back and forth over the same steps asks again for none

export class Scrubber {
  /**
   * input: an <input type="range">; fetchFrame(n) resolves to the frame of past step n; view(frame, n) shows it;
   * live() goes back to the live view; status(text, kind) says what is happening ("" clears it).
   */
  constructor(input, { fetchFrame, view, live, status }) {
    this.input = input;
    this.fetchFrame = fetchFrame;
    this.onView = view;
    this.onLive = live;
    this.status = status;
    this.first = 0; // the first step that can be shown (after the run's start or its last rebuild)
    this.last = 0; // the latest completed step
    this.step = null; // the past step shown, or null: live
    this.wanted = null; // the step asked for last
    this.busy = false;
    this.timer = null;
    this.cache = new Map();
    input.addEventListener("input", () => this._moved(SETTLE_MS));
    input.addEventListener("change", () => this._moved(KEY_MS));
    this._render();
  }

  get scrubbed() { return this.step != null || this.wanted != null; }

  /** A new run, or the same run rebuilt: its past starts after step `first`. */
  restart(first) {
    this.first = first;
    this.last = first;
    this.cache.clear();
    clearTimeout(this.timer);
    const was = this.scrubbed;
    this.step = null;
    this.wanted = null;
    this._render();
    if (was) this.onLive();
  }

  /** The run has completed step `last`: the slider reaches it (and follows it while live). */
  setLast(last) {
    if (last === this.last || last < this.first) return;
    this.last = last;
    this._render();
  }

  /** Back to the live view. */
  goLive() {
    clearTimeout(this.timer);
    const was = this.scrubbed;
    this.step = null;
    this.wanted = null;
    this.status("");
    this._render();
    if (was) this.onLive();
  }

  /** The slider moved: its step is asked for once it has rested `wait` ms. */
  _moved(wait) {
    const n = Number(this.input.value);
    if (n >= this.last) { this.goLive(); return; }
    this.wanted = n;
    this._label(n);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._fetch(), wait);
  }

  async _fetch() {
    clearTimeout(this.timer);
    if (this.busy || this.wanted == null) return;
    const n = this.wanted;
    let frame = this.cache.get(n);
    if (!frame) {
      this.busy = true;
      this.status(`Replaying step ${n}…`, "busy");
      try {
        frame = await this.fetchFrame(n);
        this.cache.set(n, frame);
        if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value);
      } catch (err) {
        this.busy = false;
        if (this.wanted === n) {
          this.status(`Step ${n} could not be shown: ${err.message}`, "error");
          this.wanted = this.step;
          this.input.value = String(this.step ?? this.last);
          this._render();
        } else this._fetch();
        return;
      }
      this.busy = false;
    }
    if (this.wanted == null) return; // back to live meanwhile
    if (this.wanted !== n) { this._fetch(); return; }
    this.step = n;
    this.wanted = null;
    this.status("");
    this._render();
    this.onView(frame, n);
  }

  _label(n) {
    const text = n == null ? `live, step ${this.last}` : `step ${n} of ${this.last}`;
    this.input.setAttribute("aria-valuetext", text);
  }

  _render() {
    const input = this.input;
    input.min = String(Math.min(this.first + 1, this.last));
    input.max = String(this.last);
    input.disabled = this.last < this.first + 2 && !this.scrubbed; // the only step is the live one
    const shown = this.wanted ?? this.step;
    if (shown == null) input.value = String(this.last);
    this._label(shown);
  }
}
