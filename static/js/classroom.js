// The classroom: a teacher's page presents what it shows (the inspector's selection, a phase revealed layer by
// layer) through the server to every page watching the run with its view id; a watching page follows the teacher,
// or lets the student explore on their own until they follow again (docs/API.md, "present").

/** Where a class watches a run: the live page for its view id. */
export function watchUrl(viewId, base = location.origin) {
  return `${base}/watch/${encodeURIComponent(viewId)}`;
}

/** "1 watching", "12 watching": the teacher's header. */
export function audienceText(n) {
  return `${n} watching`;
}

/** Whether a presented selection names a neuron or a weight of a network of these layer sizes. */
export function selectionFits(sel, sizes) {
  return !!sel && sel.l < sizes.length && sel.k < sizes[sel.l] && (sel.kind !== "edge" || (sel.l >= 1 && sel.j < sizes[sel.l - 1]));
}

function selectionOf(sel) {
  if (!sel) return null;
  return sel.kind === "edge" ? { kind: "edge", l: sel.l, j: sel.j, k: sel.k } : { kind: "neuron", l: sel.l, k: sel.k };
}

/** The teacher's side: a `present` message whenever the selection or the layer reveal changes. */
export class Presenter {
  constructor(conn) {
    this.conn = conn;
    this.sent = "";
  }

  show({ selection = null, reveal = null }) {
    const msg = { type: "present", selection: selectionOf(selection), reveal };
    const key = JSON.stringify(msg);
    if (key === this.sent) return;
    this.sent = key;
    this.conn.send(msg);
  }

  /** A new run (reset, structural change): the server has forgotten the last presentation. */
  forget() { this.sent = JSON.stringify({ type: "present", selection: null, reveal: null }); }
}

/**
 * The watching side. While following, each presentation goes to `apply`; exploring, the student's own choices
 * stand and the latest presentation waits for them to follow again.
 */
export class Follower {
  constructor({ apply, changed }) {
    this.apply = apply;
    this.changed = changed;
    this.following = true;
    this.latest = null;
  }

  receive(msg) {
    this.latest = msg;
    if (this.following) this.apply(msg);
  }

  explore() {
    if (!this.following) return;
    this.following = false;
    this.changed(false);
  }

  follow() {
    if (this.following) return;
    this.following = true;
    this.changed(true);
    this.apply(this.latest || { selection: null, reveal: null });
  }
}

/**
 * A full frame as seen with another focus sample of its batch: the per-sample numbers are all in the frame, and
 * the focus sample's own gradient contributions are left for the views to compute from them (a_j δ_k).
 */
export function withFocus(frame, index) {
  if (!frame || !frame.layers?.[0]?.a) return frame;
  const n = frame.layers[0].a.length;
  const focus = Math.max(0, Math.min(index, n - 1));
  if (focus === frame.focus_index) return frame;
  return {
    ...frame,
    focus_index: focus,
    layers: frame.layers.map((layer) => ({ ...layer, focus_grad_W: null, focus_grad_b: null })),
  };
}
