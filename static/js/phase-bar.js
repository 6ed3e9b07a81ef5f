// The phase bar: which phase of which step the diagram shows (name, formula, layer reached), for the eye and, at
// most every ANNOUNCE_MS, for a screen reader. It only draws what it is given: the timeline's view and the speed.

import { fmt, speedText } from "./palette.js";
import { focusLoss } from "./frame.js";

const $ = (id) => document.getElementById(id);

const PHASE_TEXT = {
  idle: ["Ready", "Press play, or step through one phase at a time (→)."],
  forward: ["Forward pass", "activations flow from the inputs to the output: z = a·W + b, then a = f(z)"],
  loss: ["Loss", "each sample's prediction ŷ is compared with its target y; the batch's loss is the mean of the samples' losses"],
  backward: ["Backward pass", "error signals δ flow back from the output; each weight's gradient is a·δ, averaged over the batch"],
  update: ["Update", "every weight moves against its gradient: W ← W + ΔW, a green halo marks |ΔW|"],
  live: ["Live view", "training too fast to animate each phase: weights, activations and gradients as they are now"],
};
let phaseKey = "";
/** Shows the phase of `view` (Timeline.view); the live view names the speed. */
export function showPhase(view, speed) {
  const phase = view.frame && view.frame.phase == null && view.phase !== "live" ? "idle" : view.phase;
  const L = view.frame ? view.frame.layers.length : 0;
  let where = "";
  if (phase === "forward" || phase === "backward") {
    let reached = 0;
    for (let l = 1; l <= L; l++) if (view.reveal(l) > 0) reached++;
    where = ` — layer ${phase === "forward" ? Math.max(1, reached) : Math.max(1, L - reached + 1)} of ${L}`;
  }
  let extra = "";
  if (phase === "loss" && view.frame.loss != null) {
    const own = focusLoss(view.frame);
    extra = `: ${own != null ? `focus sample's loss ${fmt(own, 4)}, ` : ""}batch mean loss = ${fmt(view.frame.loss, 4)}`;
  }
  if (phase === "update" && view.frame.learning_rate) extra = ` (learning rate ${view.frame.learning_rate})`;
  if (phase === "live") extra = ` (${speedText(speed)})`;
  const key = `${phase}|${where}|${extra}|${phase === "live" ? "" : view.frame?.step}`;
  if (key === phaseKey) return;
  phaseKey = key;
  const [name, text] = PHASE_TEXT[phase] || PHASE_TEXT.idle;
  const label = $("phase-label");
  label.textContent = name;
  label.dataset.phase = phase;
  $("phasebar").dataset.phase = phase;
  $("phase-detail").textContent = `${view.frame && view.frame.step && phase !== "live" ? `Step ${view.frame.step}: ` : ""}${text}${extra}${where}`;
  for (const li of $("phasebar").querySelectorAll("li")) li.classList.toggle("active", li.dataset.phase === phase);
  announcePhase(`${view.frame && view.frame.step && phase !== "live" ? `Step ${view.frame.step}: ` : ""}${name}${where}${extra}`);
}

// screen readers hear the phase through a polite live region: at most every ANNOUNCE_MS, the latest phase only
const ANNOUNCE_MS = 1500;
const announced = { at: -Infinity, text: "", timer: null, pending: "" };
function announcePhase(text) {
  announced.pending = text;
  if (announced.timer) return;
  const wait = Math.max(0, announced.at + ANNOUNCE_MS - performance.now());
  announced.timer = setTimeout(() => {
    announced.timer = null;
    if (announced.pending === announced.text) return;
    announced.text = announced.pending;
    announced.at = performance.now();
    $("phase-announce").textContent = announced.text;
  }, wait);
}
