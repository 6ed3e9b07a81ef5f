// The little markup of lesson texts (docs/LESSONS.md): paragraphs split by a blank line, `code`, **bold**, *italic*.
// Everything else is text: the input is escaped first, so a lesson cannot inject HTML.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);

function inline(s) {
  return escapeHtml(s)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<i>$2</i>");
}

export function renderText(text) {
  return String(text ?? "").split(/\n\s*\n/).map((p) => `<p>${inline(p.trim()).replace(/\n/g, "<br>")}</p>`).join("");
}

/** A number as a student reads it: 4 significant digits, or the list of them. */
export function showNumber(v) {
  if (Array.isArray(v)) return `[${v.map(showNumber).join(", ")}]`;
  if (typeof v !== "number") return escapeHtml(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(3);
  return String(+v.toPrecision(4));
}
