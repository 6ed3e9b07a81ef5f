// "Share / Embed": the link to the current run and the <iframe> snippet that embeds it, with the widget's options.
//
//   import { openShareDialog } from "/static/js/embed/share.js";
//   openShareDialog({ config, speed, watch, data });  // config: the run's SessionConfig (partial is fine);
//                                               // watch: its view id, for the class's live link (optional);
//                                               // data: the hash of its own data (POST /api/datasets), if any
//
// The main page's Share button (static/js/share-button.js) loads this module when first pressed and opens the
// dialog for the run the page shows, as its address bar holds it (the page keeps the whole setup and the speed
// there, static/js/app.js updateUrl): the link is the page's own address. The button's data-watch attribute, when
// the page sets it, is the run's view id: the dialog then offers the live link.

import { toQuery } from "../config.js";
import { escapeHtml } from "./text.js";
import { listLessons } from "./lessons-list.js";
import { watchUrl } from "../classroom.js";

const PANELS = [["network", "Network"], ["data", "Data"], ["loss", "Loss"], ["inspector", "Inspector"]];

/** The widget's address for a state and options (absolute, on this server). */
export function embedUrl(state, { panels = ["network", "data", "loss"], theme = "light", autoplay = false, lesson = null, quiz = false, base = location.origin } = {}) {
  const extra = new URLSearchParams();
  if (panels.join(",") !== "network,data,loss") extra.set("panels", panels.join(",") || "none");
  if (theme !== "light") extra.set("theme", theme);
  if (autoplay) extra.set("autoplay", "1");
  if (quiz) extra.set("quiz", "1");
  if (lesson) extra.set("lesson", lesson);
  const query = [runQuery(state), extra.toString()].filter(Boolean).join("&");
  return `${base}/embed${query ? `?${query}` : ""}`;
}

/** The main page's address for a state: the same query its address bar holds. */
export function pageUrl(state, base = location.origin) {
  const query = runQuery(state);
  return `${base}/${query ? `?${query}` : ""}`;
}

/** The run's short query keys (static/js/config.js), without the "?". */
function runQuery(state) {
  return toQuery(state.config || {}, { ...(state.speed ? { speed: state.speed } : {}), data: state.data }).slice(1);
}

// The widget's height at the snippet's 640 px, row by row (measured on the widget: bar and footer, the network and
// data row, the loss chart, the inspector at its full height once something is clicked, the quiz button), so that
// the iframe cuts nothing of the panels chosen. A lesson's text and exercise take LESSON_HEIGHT more or less.
const ROWS = { chrome: 92, "network+data": 255, network: 226, data: 276, loss: 193, inspector: 266, quiz: 58 };
const LESSON_HEIGHT = 760;
const DEFAULT_HEIGHT = 560; // the oEmbed answer's too: a snippet is never shorter

/** The iframe height for the widget's options. */
export function widgetHeight(panels, { quiz = false, lesson = null } = {}) {
  const has = (p) => panels.includes(p);
  const top = has("network") && has("data") ? ROWS["network+data"] : has("network") ? ROWS.network : has("data") ? ROWS.data : 0;
  const rest = (has("loss") ? ROWS.loss : 0) + (has("inspector") ? ROWS.inspector : 0);
  if (lesson) return LESSON_HEIGHT + (has("inspector") ? ROWS.inspector : 0);
  return Math.max(DEFAULT_HEIGHT, ROWS.chrome + top + rest + (quiz ? ROWS.quiz : 0));
}

export function iframeSnippet(src, { width = 640, height = 560, title = "Backprop Live: a neural network learning" } = {}) {
  return `<iframe src="${escapeHtml(src)}" width="${width}" height="${height}" title="${escapeHtml(title)}" style="border:0;max-width:100%" loading="lazy" allow="fullscreen"></iframe>`;
}

let dialog = null;

const STYLE = `
.share-dialog { max-width: min(560px, 94vw); background: var(--panel, #fff); color: var(--ink, #1f2937); border: 1px solid var(--border, #d1d5db); border-radius: 12px; padding: 14px 16px; font: 14px/1.4 system-ui, sans-serif; box-shadow: 0 20px 50px rgba(0, 0, 0, 0.25); }
.share-dialog h2 { margin: 0 0 8px; font-size: 16px; color: inherit; text-transform: none; letter-spacing: 0; }
.share-dialog label { display: block; margin: 8px 0 2px; font-weight: 600; font-size: 12px; }
.share-dialog textarea, .share-dialog input[type=text] { width: 100%; box-sizing: border-box; font: 12px ui-monospace, monospace; padding: 6px; border: 1px solid var(--border, #ccc); border-radius: 6px; background: var(--panel, #fff); color: inherit; }
.share-dialog .row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin-top: 4px; }
.share-dialog .row input[type=text] { flex: 1; width: auto; }
.share-dialog .opts { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; }
.share-dialog .opts label { display: inline-flex; gap: 4px; font-weight: normal; margin: 0; }
.share-dialog select { font: inherit; padding: 4px; }
.share-dialog .live { border: 1px solid var(--border, #d1d5db); border-radius: 8px; padding: 8px 10px; margin-bottom: 6px; }
.share-dialog .live h3 { margin: 0 0 2px; font-size: 14px; }
.share-dialog .live p { margin: 2px 0 4px; font-size: 12px; color: var(--muted, #4b5563); }
.share-dialog .qr-row { display: flex; gap: 10px; align-items: flex-end; margin-top: 6px; }
.share-dialog canvas.qr { width: 132px; height: 132px; image-rendering: pixelated; border: 1px solid #e5e7eb; }
.qr-projector { background: var(--panel, #fff); color: var(--ink, #1f2937); border: 0; padding: 24px; max-width: 96vw; max-height: 96vh; text-align: center; font: 18px/1.4 system-ui, sans-serif; }
.qr-projector canvas { width: min(70vh, 86vw); height: min(70vh, 86vw); image-rendering: pixelated; display: block; margin: 0 auto 12px; }
.qr-projector .url { font: 600 clamp(14px, 2.4vw, 26px) ui-monospace, monospace; word-break: break-all; }`;

// Over 60 lines on purpose: it builds the dialog's markup once and wires its buttons; the parts are declarative and
// used nowhere else.
export function openShareDialog(state = {}) {
  if (!dialog) {
    if (!document.getElementById("share-dialog-style")) {
      const style = document.createElement("style");
      style.id = "share-dialog-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    dialog = document.createElement("dialog");
    dialog.className = "share-dialog";
    dialog.setAttribute("aria-labelledby", "share-title");
    dialog.innerHTML = `
      <h2 id="share-title">Share / Embed</h2>
      <section class="live" id="share-live" hidden aria-labelledby="share-live-title">
        <h3 id="share-live-title">Live link for your class</h3>
        <p>Students who open it watch this run as you drive it, phase by phase, read only.</p>
        <div class="row"><input type="text" id="share-watch" readonly aria-label="Live link for your class"><button type="button" data-copy="share-watch">Copy live link</button></div>
        <div class="qr-row"><canvas class="qr" id="share-qr" role="img" aria-label="QR code of the live link"></canvas>
          <button type="button" id="share-project">Show large for the projector</button>
          <button type="button" id="share-end" title="Delete this run: the class's pages say it has ended, and this page starts a new run with a new live link">End this run for the class</button></div>
      </section>
      <label for="share-link">Link to this run (same data, same starting weights)</label>
      <div class="row"><input type="text" id="share-link" readonly><button type="button" data-copy="share-link">Copy</button></div>
      <label>Widget options</label>
      <div class="opts" id="share-opts">
        ${PANELS.map(([v, t]) => `<label><input type="checkbox" name="panel" value="${v}" ${v !== "inspector" ? "checked" : ""}> ${t}</label>`).join("")}
        <label><input type="checkbox" name="dark"> Dark</label>
        <label><input type="checkbox" name="autoplay"> Autoplay</label>
        <label><input type="checkbox" name="quiz"> Quiz button</label>
      </div>
      <label for="share-lesson">Lesson (optional)</label>
      <select id="share-lesson"><option value="">No lesson: this run</option></select>
      <label for="share-embed">Embed code (paste into a course page)</label>
      <textarea id="share-embed" rows="4" readonly></textarea>
      <div class="row"><button type="button" data-copy="share-embed">Copy embed code</button>
        <a id="share-preview" href="#" target="_blank" rel="noopener">Preview the widget ↗</a>
        <span id="share-copied" role="status"></span></div>
      <form method="dialog" class="row" style="justify-content:flex-end"><button class="primary">Close</button></form>`;
    document.body.appendChild(dialog);
    dialog.addEventListener("change", () => render());
    dialog.querySelector("#share-project").addEventListener("click", () => projectQr(dialog.querySelector("#share-watch").value));
    // ending the run is the page's to do (it holds the controller id): asked twice, then handed to it as an event
    dialog.querySelector("#share-end").addEventListener("click", (e) => {
      const b = e.currentTarget;
      if (b.dataset.armed !== "1") { b.dataset.armed = "1"; b.textContent = "Click again to end it for everyone"; return; }
      document.dispatchEvent(new CustomEvent("backprop-live:end-run"));
      dialog.close();
    });
    dialog.querySelectorAll("[data-copy]").forEach((b) => b.addEventListener("click", async () => {
      const el = dialog.querySelector(`#${b.dataset.copy}`);
      el.select();
      try { await navigator.clipboard.writeText(el.value); } catch { document.execCommand?.("copy"); }
      dialog.querySelector("#share-copied").textContent = "Copied.";
    }));
    // the page's single-key shortcuts (space, R, N…) stay out of the dialog; Escape closes it as usual
    dialog.addEventListener("keydown", (e) => e.stopPropagation());
    listLessons().then((list) => {
      const sel = dialog.querySelector("#share-lesson");
      for (const l of list) { const o = document.createElement("option"); o.value = l.id; o.textContent = l.title; sel.appendChild(o); }
    }).catch(() => {
      const sel = dialog.querySelector("#share-lesson");
      sel.disabled = true;
      sel.options[0].textContent = "No lesson (the lessons could not be loaded)";
    });
  }
  dialog._state = state;
  render();
  if (!dialog.open) dialog.showModal();
  for (const id of ["#share-link", "#share-watch"]) {  // the start of each address (this server) in view, not its end
    const link = dialog.querySelector(id);
    link.setSelectionRange(0, 0);
    link.scrollLeft = 0;
  }
  return dialog;
}

function render() {
  const st = dialog._state || {};
  const opts = dialog.querySelector("#share-opts");
  const panels = [...opts.querySelectorAll("input[name=panel]:checked")].map((i) => i.value);
  const lesson = dialog.querySelector("#share-lesson").value || null;
  const src = embedUrl(lesson ? {} : st, {
    panels, theme: opts.querySelector("[name=dark]").checked ? "dark" : "light",
    autoplay: opts.querySelector("[name=autoplay]").checked, quiz: opts.querySelector("[name=quiz]").checked, lesson,
  });
  dialog.querySelector("#share-link").value = pageUrl(st);
  const live = dialog.querySelector("#share-live");
  live.hidden = !st.watch;
  const end = dialog.querySelector("#share-end");
  if (dialog.querySelector("#share-watch").value !== (st.watch ? watchUrl(st.watch) : "")) { end.dataset.armed = ""; end.textContent = "End this run for the class"; }
  if (st.watch) {
    const url = watchUrl(st.watch);
    if (dialog.querySelector("#share-watch").value !== url) {
      dialog.querySelector("#share-watch").value = url;
      drawQr(dialog.querySelector("#share-qr"), url).catch(() => { dialog.querySelector("#share-qr").hidden = true; });
    }
  }
  const quiz = opts.querySelector("[name=quiz]").checked;
  dialog.querySelector("#share-embed").value = iframeSnippet(src, { height: widgetHeight(panels, { quiz, lesson }) });
  dialog.querySelector("#share-preview").href = src;
  dialog.querySelector("#share-copied").textContent = "";
}

// ---------- the QR code of the live link (qrcode-generator, loaded the first time it is drawn) ----------

let qrLibrary = null;
const QR_MARGIN = 4; // modules of white around the code, as the standard asks

async function drawQr(canvas, text) {
  qrLibrary = qrLibrary || import("/static/vendor/qrcode-generator/qrcode.mjs").then((m) => m.default);
  const qrcode = await qrLibrary;
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount(), size = n + 2 * QR_MARGIN;
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000";
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (qr.isDark(r, c)) ctx.fillRect(c + QR_MARGIN, r + QR_MARGIN, 1, 1);
  canvas.dataset.text = text;
  canvas.dataset.modules = String(n);
}

let projector = null;
function projectQr(url) {
  if (!projector) {
    projector = document.createElement("dialog");
    projector.className = "qr-projector";
    projector.setAttribute("aria-label", "Live link for your class");
    projector.innerHTML = `<canvas role="img" aria-label="QR code of the live link"></canvas><div class="url"></div>
      <form method="dialog"><button class="primary" style="margin-top:12px">Close</button></form>`;
    projector.addEventListener("keydown", (e) => e.stopPropagation());
    document.body.appendChild(projector);
  }
  projector.querySelector(".url").textContent = url;
  drawQr(projector.querySelector("canvas"), url).catch(() => {});
  projector.showModal();
}
