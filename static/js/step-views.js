// What the views beside the diagram show of the steps that arrive: the charts (metrics, gradient norms), the
// decision boundary (heatmap, neurons' pictures) and the highlight of the current batch's points. In slow motion a
// step's messages arrive with its frame, while the diagram is still animating the step before: they wait here,
// kept by step, and reach the views as the animation gets to them. Shared by the page and the embedded widget.

import { StepLog } from "./metrics-log.js";
import { settledStep } from "./timeline.js";

export class StepViews {
  /**
   * `views`: what to do when something is to show, each optional: metrics(m) for every step's metrics,
   * grads(step, norms) for every step's gradient norms, boundary(b) for the latest boundary, batch(frame) for the
   * frame whose batch is highlighted.
   */
  constructor(views) {
    this.views = views;
    this.metrics = new StepLog();
    this.boundaries = new StepLog();
    this.grads = new StepLog();
    this.batchFrame = null; // the frame whose batch is highlighted
    this.reset();
  }

  /** A new run, or the same run from another step: `firstMetrics` (may be null) is what is known at its start. */
  reset(firstMetrics = null) {
    this.metrics.reset(firstMetrics);
    this.boundaries.reset();
    this.grads.reset();
    this.boundary = null; // the boundary shown
    // the frame whose batch is highlighted stays: the views clear the highlight of a new run themselves, and a
    // frame of the old run is not highlighted again
  }

  addMetrics(m) { this.metrics.add(m); }
  addBoundary(b) { this.boundaries.add(b); }

  /** A frame: after an update, its gradient norms (every layer's, or none). */
  addFrame(frame) {
    if (frame.phase !== "update") return;
    const norms = frame.layers.map((l) => l.grad_W_norm);
    if (norms.every((v) => v != null)) this.grads.add({ step: frame.step, norms });
  }

  /**
   * Shows the network after step `upTo`: every step's metrics and gradient norms up to it not shown yet, and the
   * latest boundary at or before it. Infinity: everything that has arrived.
   */
  showUpTo(upTo) {
    const v = this.views;
    for (const m of this.metrics.take(upTo)) v.metrics?.(m);
    for (const g of this.grads.take(upTo)) v.grads?.(g.step, g.norms);
    const b = this.boundaries.at(upTo);
    if (b && b !== this.boundary) {
      this.boundary = b;
      v.boundary?.(b);
    }
    this.boundaries.forgetBefore(upTo);
    this.grads.forgetBefore(upTo);
  }

  /** Highlights the batch of `frame` (once per frame; frames without a batch leave the highlight as it is). */
  showBatch(frame) {
    if (!frame || frame === this.batchFrame) return;
    this.batchFrame = frame;
    this.views.batch?.(frame);
  }

  /**
   * Call every animation frame with the diagram's view and the latest frame received. `holding`: slow motion
   * plays in sight, so the views follow the animation: the charts and the boundary show the last step whose
   * update the diagram has applied, the batch highlighted is the one of the step being animated, from its forward
   * phase on. Otherwise (paused, stepping, live view) they show what has arrived. Returns the settled step.
   */
  follow(view, latest, holding) {
    const settled = settledStep(view);
    this.showUpTo(holding ? settled : Infinity);
    this.showBatch(holding ? view.frame : latest);
    return settled;
  }

  /** After the metrics at `settled` have been read (metrics.at): forgets what neither the header nor the charts need. */
  forget(settled) {
    this.metrics.forgetBefore(Math.min(settled, this.metrics.taken));
  }
}
