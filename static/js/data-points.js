// On a run on one's own 2-D data: a click on the data plane adds a point of the chosen class (or value, for
// regression) there, and a click on a point removes it. The data set changes through the page's structural change
// (PATCH ?reset=true with the new custom_data): the run starts again on the new data.

export const POINT_DIGITS = 3; // coordinates as clicked, rounded: a click is not more precise than that

export class PointEditor {
  /**
   * canvas: the data plane; view: its BoundaryView; change(custom) applies a new custom_data; limits: {max_custom_rows,
   * min_custom_rows, max_classes}.
   */
  constructor(canvas, view, { change, limits }) {
    const $ = (id) => document.getElementById(id);
    this.$ = $;
    this.canvas = canvas;
    this.view = view;
    this.change = change;
    this.limits = limits;
    this.custom = null;
    canvas.addEventListener("click", (e) => this.click(e));
  }

  /** The run shown: editable when it is on the user's own 2-D data. */
  setRun(session) {
    const c = session.config;
    const on = c.dataset === "custom" && !!c.custom_data && session.input_dim === 2;
    if (!on || c.custom_data !== this.custom) this.said = null;
    this.custom = on ? c.custom_data : null;
    this.$("point-tools").hidden = !on;
    this.canvas.classList.toggle("editable", on);
    if (!on) return;
    const regression = c.custom_data.task === "regression";
    this.$("point-value").hidden = !regression;
    this.$("point-class").hidden = regression;
    if (!regression) {
      const k = session.n_classes || 2;
      const sel = this.$("point-class");
      const was = sel.value;
      sel.innerHTML = "";
      for (let i = 0; i < Math.min(k + 1, this.limits.max_classes); i++) {
        const o = document.createElement("option");
        o.value = String(i);
        o.textContent = i < k ? `a point of class ${i}` : `a point of a new class ${i}`;
        sel.appendChild(o);
      }
      sel.value = was && Number(was) <= k ? was : "0";
    }
    if (!this.said) this.say("Click the plane to add a point; click a point to remove it."); // else what the last click did
  }

  say(text) { this.$("point-tools-hint").textContent = text; this.said = text; }

  click(e) {
    if (!this.custom) return;
    const r = this.canvas.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const hit = this.view.pointAt(px, py);
    const { x, y, task } = this.custom;
    if (hit) {
      const i = x.findIndex((p) => p[0] === hit.x[0] && p[1] === hit.x[1]);
      if (i < 0) return;
      if (x.length <= this.limits.min_custom_rows) { this.say(`At least ${this.limits.min_custom_rows} points are needed: this one stays.`); return; }
      this.apply({ x: x.filter((_, j) => j !== i), y: y.filter((_, j) => j !== i), task }, `Removed the point at (${hit.x[0]}, ${hit.x[1]}).`);
      return;
    }
    if (x.length >= this.limits.max_custom_rows) { this.say(`Your data has the most points allowed, ${this.limits.max_custom_rows}: remove one first.`); return; }
    const plane = this.view.plane();
    const round = (v) => Number(v.toFixed(POINT_DIGITS));
    const at = [round(plane.x(px)), round(plane.y(py))];
    const value = task === "regression" ? Number(this.$("point-value").value) : Number(this.$("point-class").value);
    if (!Number.isFinite(value)) { this.say("Type the value of the new point first."); return; }
    this.apply({ x: [...x, at], y: [...y, value], task }, `Added a point at (${at[0]}, ${at[1]}).`);
  }

  apply(custom, text) {
    this.custom = custom;
    this.say(`${text} The run starts again on ${custom.x.length} points.`);
    this.change(custom);
  }
}
