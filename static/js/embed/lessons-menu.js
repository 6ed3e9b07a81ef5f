// The main page's "Lessons" menu: the built-in lessons, each opening in the widget (/embed?lesson=ID) in a new
// tab. A page only needs a button with id "lessons-button" and this module.

import { listLessons, lessonUrl } from "./lessons-list.js";
import { escapeHtml } from "./text.js";

let dialog = null;

function lessonItem(l) {
  const meta = [l.level, l.minutes ? `${l.minutes} min` : "", l.exercises ? `${l.exercises} exercise${l.exercises === 1 ? "" : "s"}` : ""]
    .filter(Boolean).join(" · ");
  return `<li data-lesson="${escapeHtml(l.id)}">
      <a href="${escapeHtml(lessonUrl(l.id))}" target="_blank" rel="noopener">${escapeHtml(l.title)}</a>
      <span class="meta">${escapeHtml(meta)}</span>
      <p>${escapeHtml(l.summary)}</p></li>`;
}

async function fill(list) {
  try {
    const lessons = await listLessons();
    list.innerHTML = lessons.length ? lessons.map(lessonItem).join("") : "<li>No lessons are installed on this server.</li>";
    list.dataset.loaded = "1";
  } catch (err) {
    list.innerHTML = `<li role="alert">The lessons could not be loaded: ${escapeHtml(err.message)}.</li>`;
  }
}

export function openLessonsMenu() {
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.id = "lessons-dialog";
    dialog.className = "lessons-dialog";
    dialog.setAttribute("aria-labelledby", "lessons-title");
    dialog.innerHTML = `
      <h2 id="lessons-title">Lessons</h2>
      <p class="hint">Guided lessons in the compact widget, each opens in a new tab. To put one on a course page,
        use Share / Embed and pick the lesson.</p>
      <ol class="lessons-list" id="lessons-list"><li>Loading…</li></ol>
      <form method="dialog"><button class="primary">Close</button></form>`;
    document.body.appendChild(dialog);
    // the page's single-key shortcuts (space, R, N…) stay out of the menu; Escape closes it as usual
    dialog.addEventListener("keydown", (e) => e.stopPropagation());
  }
  const list = dialog.querySelector("#lessons-list");
  if (!list.dataset.loaded) fill(list);  // again after a failed load
  if (!dialog.open) dialog.showModal();
  return dialog;
}

function attach() {
  const btn = document.getElementById("lessons-button");
  if (!btn || btn.dataset.lessonsAttached) return;
  btn.dataset.lessonsAttached = "1";
  btn.addEventListener("click", openLessonsMenu);
}
if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", attach); else attach();
}
