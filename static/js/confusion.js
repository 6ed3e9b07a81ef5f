// The confusion matrix of the test set as a table: rows are the true class, columns the predicted class, each count
// on a shade of the text colour so that it reads in the light and the dark theme. Shared by the page and the widget.

/**
 * The HTML of the table of `m` (m[i][j]: test samples of class i predicted as class j), 2 to 10 classes. `caption`
 * (optional): the table's own caption, for a table without a heading beside it.
 */
export function confusionTable(m, caption = "") {
  const max = Math.max(1, ...m.flat());
  const cap = caption ? `<caption>${caption}</caption>` : "";
  // the shade stops at 35 % of the text colour so that the count stays readable on it, light or dark
  return `<table class="cm">${cap}<tr><td></td>${m.map((_, j) => `<th scope="col">${j}</th>`).join("")}</tr>${m.map((row, i) =>
    `<tr><th scope="row">${i}</th>${row.map((v) => `<td style="background:color-mix(in srgb, var(--ink) ${Math.round(5 + 30 * v / max)}%, transparent)">${v}</td>`).join("")}</tr>`).join("")}</table>`;
}
