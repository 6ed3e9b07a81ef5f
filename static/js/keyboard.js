// Keyboard shortcuts (listed in the help overlay, opened with ?).

export function bindKeys(actions) {
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    const typing = t && (t.tagName === "INPUT" && !["checkbox", "range", "radio"].includes(t.type) || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
    if (typing) return;
    let handled = true;
    switch (e.key) {
      case " ": if (t && t.tagName === "BUTTON") { handled = false; break; } actions.togglePlay(); break;
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
