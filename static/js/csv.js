// A user's own data from CSV text (Papa Parse, vendored, splits the cells: quotes, line endings, the delimiter):
// numeric columns, one of them the label (classification) or the target (regression), a header row if the first
// row is not numbers. The result is the API's custom_data {x, y, task}; a bad cell is reported by its row and column
// as a spreadsheet numbers them (rows from 1, the header included).

import { CUSTOM_LIMITS } from "./config.js";

export class CsvError extends Error {
  constructor(message, row = null, column = null) {
    super(message);
    this.row = row;
    this.column = column;
  }
}

let papa = null;
/** Papa Parse (vendored), loaded the first time a CSV is to be read rather than with the page. */
export function loadPapa() {
  if (!papa) {
    papa = new Promise((resolve, reject) => {
      if (window.Papa) { resolve(window.Papa); return; }
      const script = document.createElement("script");
      script.src = "/static/vendor/papaparse/papaparse.min.js";
      script.onload = () => resolve(window.Papa);
      script.onerror = () => { papa = null; script.remove(); reject(new Error("the CSV reader could not be loaded")); };
      document.head.appendChild(script);
    });
  }
  return papa;
}

const isNumber = (s) => s.trim() !== "" && Number.isFinite(Number(s.trim()));

/** The limits of custom_data as one sentence, for the form's help and its errors. */
export function limitsText(lim = CUSTOM_LIMITS) {
  return `${lim.min_custom_rows} to ${lim.max_custom_rows} rows of 1 to ${lim.max_inputs} numeric inputs and a label ` +
    `(classes 0 to ${lim.max_classes - 1}) or a numeric target`;
}

/**
 * Splits CSV text into {header, rows} (rows of strings). header: the column names when the first row is not all
 * numbers, else null. Papa Parse must be loaded (loadPapa).
 */
export function splitCsv(text) {
  const parsed = window.Papa.parse(String(text).trim(), { skipEmptyLines: "greedy" });
  const rows = parsed.data.map((r) => r.map((c) => String(c).trim()));
  if (!rows.length) throw new CsvError("The CSV is empty: paste or upload rows of numbers.");
  const header = rows[0].some((c) => !isNumber(c)) && rows.length > 1 && rows[1].every(isNumber) ? rows[0] : null;
  return { header, rows: header ? rows.slice(1) : rows };
}

/**
 * custom_data from CSV text. options: label (column index, default the last), task ("auto", "classification",
 * "regression"), limits. Throws CsvError naming the row and column of the first bad cell, or the limit passed.
 * Class labels may be any integers (at most max_classes different): they are numbered 0..K-1 in increasing order,
 * and `classes` gives the original label of each.
 */
export function parseCsv(text, { label = null, task = "auto", limits = CUSTOM_LIMITS } = {}) {
  const { header, rows } = splitCsv(text);
  const width = (header || rows[0]).length;
  const first = header ? 2 : 1; // the file's row number of rows[0]
  const name = (c) => (header ? `column ${c + 1} ("${header[c]}")` : `column ${c + 1}`);
  if (width < 2) throw new CsvError(`Row ${first} has ${width} column: it needs at least two, the inputs and the label.`, first, 1);
  const li = label == null ? width - 1 : label;
  if (!(li >= 0 && li < width)) throw new CsvError(`There is no column ${li + 1}: the rows have ${width}.`, null, li + 1);
  if (width - 1 > limits.max_inputs) {
    throw new CsvError(`The rows have ${width - 1} input columns; at most ${limits.max_inputs} are allowed.`, null, limits.max_inputs + 2);
  }
  if (rows.length < limits.min_custom_rows) {
    throw new CsvError(`The CSV has ${rows.length} data row${rows.length === 1 ? "" : "s"}; at least ${limits.min_custom_rows} are needed (one to train on, one to test).`);
  }
  if (rows.length > limits.max_custom_rows) {
    throw new CsvError(`The CSV has ${rows.length} data rows; at most ${limits.max_custom_rows} are allowed.`, first + limits.max_custom_rows, null);
  }
  const x = [], y = [];
  rows.forEach((r, i) => {
    const row = first + i;
    if (r.length !== width) {
      throw new CsvError(`Row ${row} has ${r.length} cells; the ${header ? "header" : "first row"} has ${width}.`, row, Math.min(r.length, width) + 1);
    }
    const values = r.map((cell, c) => {
      if (!isNumber(cell)) {
        throw new CsvError(`Row ${row}, ${name(c)}: ${cell === "" ? "the cell is empty" : `"${cell.slice(0, 24)}" is not a number`}.`, row, c + 1);
      }
      return Number(cell);
    });
    y.push(values[li]);
    x.push(values.filter((_, c) => c !== li));
  });
  const integers = y.every(Number.isInteger);
  const distinct = [...new Set(y)].sort((a, b) => a - b);
  let kind = task;
  if (kind === "auto") kind = integers && distinct.length >= 2 && distinct.length <= limits.max_classes ? "classification" : "regression";
  let classes = null;
  if (kind === "classification") {
    const bad = y.findIndex((v) => !Number.isInteger(v));
    if (bad >= 0) throw new CsvError(`Row ${first + bad}, ${name(li)}: a class label must be a whole number, not ${y[bad]}.`, first + bad, li + 1);
    if (distinct.length > limits.max_classes) {
      const at = y.findIndex((v) => distinct.indexOf(v) >= limits.max_classes);
      throw new CsvError(`Row ${first + at}, ${name(li)}: label ${y[at]} is a class past the ${limits.max_classes} allowed.`, first + at, li + 1);
    }
    if (distinct.length < 2) throw new CsvError(`${name(li)[0].toUpperCase()}${name(li).slice(1)} has one class only (${distinct[0]}): classification needs two.`, null, li + 1);
    const index = new Map(distinct.map((v, k) => [v, k]));
    for (let i = 0; i < y.length; i++) y[i] = index.get(y[i]);
    classes = distinct;
  }
  const inputs = (header || []).filter((_, c) => c !== li);
  return { custom: { x, y, task: kind }, header, inputs, labelName: header ? header[li] : `column ${li + 1}`, classes };
}
