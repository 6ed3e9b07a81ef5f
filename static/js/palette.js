// Colours shared by every view. Diverging blue (negative) / orange (positive), safe for the common forms of
// colour blindness; categorical colours from Okabe and Ito.

const NEG = [33, 102, 172];   // blue
const MID = [247, 247, 247];  // near white
const POS = [224, 130, 20];   // orange

// the colours of text and lines drawn on canvases: set from the theme (applyTheme), read at every draw
const LIGHT = {
  forward: "#1f2937", backward: "#b0179a", warn: "#b91c1c", ink: "#1f2937", muted: "#4b5563",
  grid: "#e5e7eb", select: "#111827", cursor: "#111827", labelBack: "rgba(255,255,255,0.85)", lossBack: "#fef3c7",
};
const DARK = {
  forward: "#e5e7eb", backward: "#f472d0", warn: "#f87171", ink: "#e5e7eb", muted: "#a3acb9",
  grid: "#334155", select: "#f9fafb", cursor: "#f9fafb", labelBack: "rgba(27,36,51,0.88)", lossBack: "#4a3b12",
};
export const COLORS = { neg: `rgb(${NEG})`, pos: `rgb(${POS})`, mid: `rgb(${MID})`, ...LIGHT };

/** Canvas colours for a light or dark page (the CSS side is html[data-theme]); views redraw with them. */
export function applyTheme(dark) {
  Object.assign(COLORS, dark ? DARK : LIGHT);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

export const CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
  "#000000", "#999999", "#7F3C8D"];

// 257-entry lookup table over [-1, 1]
const LUT = [];
const LUT_CSS = [];
for (let i = 0; i <= 256; i++) {
  const t = i / 128 - 1;
  const end = t < 0 ? NEG : POS;
  const u = Math.abs(t);
  const c = [0, 1, 2].map((j) => Math.round(MID[j] + (end[j] - MID[j]) * u));
  LUT.push(c);
  LUT_CSS.push(`rgb(${c[0]},${c[1]},${c[2]})`);
}

function index(v) {
  if (!Number.isFinite(v)) return v > 0 ? 256 : v < 0 ? 0 : 128;
  return Math.max(0, Math.min(256, Math.round((v + 1) * 128)));
}

/** v in [-1, 1] (clamped) to an [r, g, b] triple. */
export function diverging(v) { return LUT[index(v)]; }
/** v in [-1, 1] (clamped) to a CSS colour. */
export function divergingCss(v) { return LUT_CSS[index(v)]; }

export function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function maxAbs(values) {
  let m = 0;
  for (const v of values) { const a = Math.abs(v); if (a > m && Number.isFinite(a)) m = a; }
  return m;
}

/** Formats a number for the page: 4 significant digits, exponent for the very small and very large. */
export function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return v > 0 ? "∞" : v < 0 ? "−∞" : "NaN";
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s = a >= 1e4 || a < 1e-3 ? v.toExponential(digits - 1) : v.toPrecision(digits);
  if (s.includes("e")) s = s.replace(/\.?0+e/, "e").replace("e+", "e");
  else if (s.includes(".")) s = s.replace(/\.?0+$/, "");
  return s.replace("-", "−");
}

/** A speed as the page says it: "0.5 steps/s", "1 step/s", "180 steps/s". */
export function speedText(sps) {
  const n = sps < 10 ? +sps.toPrecision(2) : Math.round(sps);
  return `${n} step${n === 1 ? "" : "s"}/s`;
}
