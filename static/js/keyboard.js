// Keyboard shortcuts (listed in the help overlay, opened with ?). A control keeps the keys it works with: arrows
// move a slider, Space ticks a checkbox or opens a section, and an open dialog other than the help has the
// keyboard to itself.

const ARROWS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);

/** Whether the focused element `t` handles `key` itself (so the page's shortcut must not). */
export function ownsKey(t, key) {
  if (!t || !t.tagName) return false;
  const tag = t.tagName, type = (t.type || "").toLowerCase();
  if (tag === "TEXTAREA" || tag === "SELECT" || t.isContentEditable) return true;
  if (tag === "INPUT") {
    if (type === "range") return ARROWS.has(key);
    if (type === "checkbox" || type === "radio") return key === " " || (type === "radio" && ARROWS.has(key));
    return true;  // text, number: typing
  }
  if (key === " " || key === "Enter") return tag === "BUTTON" || tag === "SUMMARY" || tag === "A";
  return false;
}

export function bindKeys(actions) {
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const open = document.querySelector("dialog[open]");
    if (open && open.id !== "help") return;
    if (open && e.key !== "?") return;  // the help dialog closes itself on Escape
    if (ownsKey(e.target, e.key)) return;
    let handled = true;
    switch (e.key) {
      case " ": actions.togglePlay(); break;
      case "ArrowRight": if (e.shiftKey) actions.stepFull(); else actions.stepPhase(); break;
      case "ArrowDown": actions.stepLayer(); break;
      case "+": case "=": actions.faster(); break;
      case "-": case "_": actions.slower(); break;
      case "r": case "R": actions.reset(); break;
      case "n": case "N": actions.regenerate(); break;
      case "t": case "T": actions.toggleTest(); break;
      case "l": case "L": actions.toggleLog(); break;
      case "?": actions.help(); break;
      case "Escape": actions.escape(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
}
