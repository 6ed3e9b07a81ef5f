// The built-in lessons (GET /api/lessons, docs/LESSONS.md), fetched once per page and shared by the main
// page's Lessons menu and the Share / Embed dialog.

let pending = null;

/** The lesson summaries in teaching order: [{id, title, summary, level, minutes, steps, exercises}]. */
export function listLessons() {
  if (!pending) {
    pending = fetch("/api/lessons", { headers: { Accept: "application/json" } })
      .then((r) => { if (!r.ok) throw new Error(`the server answered ${r.status}`); return r.json(); })
      .catch((err) => { pending = null; throw err; });
  }
  return pending;
}

/** The widget's address for a built-in lesson. */
export const lessonUrl = (id, base = location.origin) => `${base}/embed?lesson=${encodeURIComponent(id)}`;
