// Numbers on demand: the selected neuron's z, a, f'(z) and delta, or the selected weight's w, grad_W, the focus
// sample's own contribution and dW_applied, each with the formula that produced it and its live numbers
// (KaTeX, loaded the first time the inspector opens), and the chain rule walked from the loss to the weight. The
// pages themselves (static/js/inspector-pages.js) load then too: most visits never open the inspector.

import { isFull, focusOf } from "./frame.js";

let katexPromise = null;
function loadKatex() {
  if (katexPromise) return katexPromise;
  katexPromise = new Promise((resolve, reject) => {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = "/static/vendor/katex/katex.min.css";
    document.head.appendChild(css);
    const s = document.createElement("script");
    s.src = "/static/vendor/katex/katex.min.js";
    s.onload = () => resolve(window.katex);
    s.onerror = reject;
    document.head.appendChild(s);
  });
  return katexPromise;
}

export class Inspector {
  constructor(el, hintEl, { idleHint = "Click a neuron or a connection in the network." } = {}) {
    this.el = el;
    this.hintEl = hintEl;
    this.idleHint = idleHint;
    this.selection = null;
    this.frame = null;
    this.config = null;
    this.katex = null;
    this.pages = null; // static/js/inspector-pages.js, loaded the first time it opens
    this._key = null;
  }

  open(selection) {
    this.selection = selection;
    this._key = null;
    if (!this.pages) {
      import("./inspector-pages.js").then(({ InspectorPages }) => { this.pages = new InspectorPages(this); this._key = null; this.render(this.frame); })
        .catch(() => { this.el.innerHTML = "<p>The inspector could not be loaded: reload the page.</p>"; });
    }
    if (!this.katex) loadKatex().then((k) => { this.katex = k; this._key = null; this.render(this.frame); }).catch(() => {});
    this.render(this.frame);
  }

  close() { this.selection = null; this._key = null; this.render(this.frame); }

  setConfig(config, sizes, inputLabels) { this.config = config; this.sizes = sizes; this.inputLabels = inputLabels; }

  /** Re-renders only when the frame or the selection changed. */
  render(frame) {
    this.frame = frame;
    const sel = this.selection;
    const key = `${frame ? `${frame.step}/${frame.phase}/${frame.detail}/${frame.seq || ""}/${frame.focus_index}` : "-"}|${JSON.stringify(sel)}|${!!this.katex}|${!!this.pages}`;
    if (key === this._key) return;
    this._key = key;
    if (!sel) {
      this.el.innerHTML = "";
      this.hintEl.textContent = this.idleHint;
      return;
    }
    if (!frame) { this.el.innerHTML = "<p>No step yet: press step or play.</p>"; return; }
    this.hintEl.textContent = `Step ${frame.step}, after the ${frame.phase || "start"}${frame.phase ? " phase" : ""}` +
      (isFull(frame) ? `, focus sample ${focusOf(frame) + 1} of ${frame.layers[0].a.length}` : " (batch means)");
    if (!this.pages) { this.el.innerHTML = "<p>Loading…</p>"; return; }
    this.el.innerHTML = this.pages.html(frame, sel);
    this._typeset();
  }

  _typeset() {
    for (const node of this.el.querySelectorAll("[data-tex]")) {
      const tex = node.getAttribute("data-tex");
      if (this.katex) {
        // display formulas in display style but inline mode: KaTeX may then break a long line after an = or
        // a +, so the numbers at its end stay in sight on a phone
        const display = node.classList.contains("display");
        try { this.katex.render(display ? `\\displaystyle ${tex}` : tex, node, { throwOnError: false }); }
        catch { node.textContent = tex; }
      } else node.textContent = tex.replace(/\\[a-zA-Z]+/g, (m) => ({ "\\cdot": "·", "\\times": "×", "\\delta": "δ", "\\sum": "Σ", "\\partial": "∂" }[m] || ""));
    }
  }
}
