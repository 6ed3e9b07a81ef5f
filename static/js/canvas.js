// Canvas sizing shared by the diagram and the data view.

/** Size a canvas's backing store to its CSS box (at most 2x device pixels) and draw in CSS pixels.
 *  Returns the CSS width and height, at least minW x minH. */
export function fitCanvas(canvas, ctx, minW, minH) {
  const r = canvas.getBoundingClientRect();
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const w = Math.max(minW, r.width), h = Math.max(minH, r.height);
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return [w, h];
}
