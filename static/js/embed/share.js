// "Share / Embed": the link to the current run and the <iframe> snippet that embeds it, with the widget's options.
//
//   import { openShareDialog } from "/static/js/embed/share.js";
//   openShareDialog({ config, speed });        // config: the run's SessionConfig (partial is fine)
//
// If the page has an element with id "share-button", clicking it opens the dialog for the run the main page
// shows, as its address bar holds it (the page keeps the whole setup and the speed there, static/js/app.js
// updateUrl), so the page only needs the button and the import, and the link is the page's own address.

import { parseUrl, toQuery } from "../config.js";
import { escapeHtml } from "./text.js";
import { listLessons } from "./lessons-list.js";

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
  return toQuery(state.config || {}, state.speed ? { speed: state.speed } : {}).slice(1);
}

export function iframeSnippet(src, { width = 640, height = 560, title = "Backprop Live: a neural network learning" } = {}) {
  return `<iframe src="${escapeHtml(src)}" width="${width}" height="${height}" title="${escapeHtml(title)}" style="border:0;max-width:100%" loading="lazy" allow="fullscreen"></iframe>`;
}

let dialog = null;

const STYLE = `
.share-dialog { max-width: min(560px, 94vw); border: 1px solid #d1d5db; border-radius: 12px; padding: 14px 16px; font: 14px/1.4 system-ui, sans-serif; box-shadow: 0 20px 50px rgba(0, 0, 0, 0.25); }
.share-dialog h2 { margin: 0 0 8px; font-size: 16px; color: inherit; text-transform: none; letter-spacing: 0; }
.share-dialog label { display: block; margin: 8px 0 2px; font-weight: 600; font-size: 12px; }
.share-dialog textarea, .share-dialog input[type=text] { width: 100%; box-sizing: border-box; font: 12px ui-monospace, monospace; padding: 6px; border: 1px solid #ccc; border-radius: 6px; }
.share-dialog .row { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin-top: 4px; }
.share-dialog .row input[type=text] { flex: 1; width: auto; }
.share-dialog .opts { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; }
.share-dialog .opts label { display: inline-flex; gap: 4px; font-weight: normal; margin: 0; }
.share-dialog select { font: inherit; padding: 4px; }`;

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
  const link = dialog.querySelector("#share-link");
  link.setSelectionRange(0, 0);  // the start of the address (this server) in view, not its end
  link.scrollLeft = 0;
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
  dialog.querySelector("#share-embed").value = iframeSnippet(src, { height: lesson ? 760 : 560 });
  dialog.querySelector("#share-preview").href = src;
  dialog.querySelector("#share-copied").textContent = "";
}

// the main page: a button with id "share-button" opens the dialog for the run it shows
function attach() {
  const btn = document.getElementById("share-button");
  if (!btn || btn.dataset.shareAttached) return;
  btn.dataset.shareAttached = "1";
  btn.addEventListener("click", () => {
    const { config, ui } = parseUrl(location.search);
    openShareDialog({ config, speed: ui.speed });
  });
}
if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attach); else attach();
}
