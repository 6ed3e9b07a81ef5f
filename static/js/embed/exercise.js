// Predict-then-reveal: which phase an exercise is about, where the run must stand when it is asked, the numbers
// the student is given, the true value read from the server's full frame, and how far an answer was.
// Pure functions (no DOM), mirrored in Python by app/lessons/runner.py.

export const PHASES = ["forward", "loss", "backward", "update"];

// ask -> [phase that computes it, mode]. "held": the phase runs first and the answer is withheld from the views
// (the inputs it needs appear in the same phase); "before": the widget stops before the phase and runs it on answer.
export const KINDS = {
  z: ["forward", "held"], a: ["forward", "held"],
  loss: ["loss", "before"],
  delta: ["backward", "held"], grad_W: ["backward", "held"], grad_b: ["backward", "held"],
  dW_sign: ["update", "before"], new_W: ["update", "before"], new_b: ["update", "before"],
};
export const DEFAULT_TOLERANCE = { abs: 1e-3, rel: 0.01 };

export const phaseOf = (ask) => KINDS[ask][0];
export const modeOf = (ask) => KINDS[ask][1];

// how many phases of the current step have run, by the trainer's state
const RAN = { ready: 0, forwarded: 1, loss_computed: 2, backpropagated: 3, updated: 4 };

/** The step a state's latest phase belongs to (`step` counts the steps whose update ran). */
export const stepInProgress = (state, step) => (state === "updated" || state === "ready" ? step : step + 1);

/**
 * Where the run must go for an exercise. `state` is the trainer's state; `kept` says the widget ran the current
 * step's phases itself and holds their full frames (a lesson's step_phase, or an earlier card). Then a question
 * about a phase this step already ran is asked about this same step and sample: the views go back to how they
 * were before that phase (`reuse`), so a chain of cards follows one sample through one step. Otherwise the step
 * is finished and the question is about the next one.
 * Returns {calls: the REST phases to run now, hold: the last call's frame is withheld from the views,
 * reuse: the step has run the phase already, after: the phase to run on the answer (or null)}.
 */
export function positionPlan(ask, state, kept = false) {
  if (!(state in RAN)) throw new Error(`the run is ${state}: reset it before an exercise`);
  const p = PHASES.indexOf(phaseOf(ask));
  const held = modeOf(ask) === "held";
  let ran = RAN[state];
  const calls = [];
  if (!kept && ran > 0) {
    if (ran < 4) calls.push("update"); // the step's numbers were not the widget's to ask about: finish it
    ran = 0;
  }
  if (p < ran) return { calls, hold: false, reuse: true, after: null };
  const stop = held ? p : p - 1;
  if (stop >= ran) calls.push(PHASES[stop]);
  return { calls, hold: held, reuse: false, after: held ? null : PHASES[p] };
}

const sampleOf = (ex, frame) => (Number.isInteger(ex.sample) ? ex.sample : frame.focus_index || 0);
const aPrev = (frame, l) => (l === 1 ? frame.a0 : frame.layers[l - 2].a);

/** The true value, from the full frame of the phase that computes it. */
export function truthOf(ex, frame) {
  if (ex.ask === "loss") return frame.loss;
  const t = ex.target;
  const L = frame.layers[t.layer - 1];
  const i = sampleOf(ex, frame);
  switch (ex.ask) {
    case "z": case "a": case "delta": return L[ex.ask][i][t.neuron];
    case "grad_b": return L.grad_b[t.neuron];
    case "new_b": return L.b[t.neuron] + L.db_applied[t.neuron];
    case "grad_W": return L.grad_W[t.from][t.to];
    case "new_W": return L.W[t.from][t.to] + L.dW_applied[t.from][t.to];
    case "dW_sign": { const d = L.dW_applied[t.from][t.to]; return d > 0 ? 1 : d < 0 ? -1 : 0; }
    default: throw new Error(`unknown exercise ${ex.ask}`);
  }
}

const slope = (act, z, a) => ({ sigmoid: a * (1 - a), tanh: 1 - a * a, relu: z > 0 ? 1 : 0, leaky_relu: z > 0 ? 1 : 0.01, linear: 1 }[act]);

/**
 * The numbers a student needs, as [{symbol, value}] (value: a number or a list of numbers). `frame` is the frame
 * the question is asked on: the held frame for "held" exercises, the last full frame for "before" ones.
 */
export function givensOf(ex, frame, { loss = "mse", optimizer = "sgd" } = {}) {
  const i = sampleOf(ex, frame);
  const out = [];
  const add = (symbol, value) => out.push({ symbol, value });
  const nL = frame.layers.length;
  if (ex.ask === "loss") {
    const last = frame.layers[nL - 1];
    for (let s = 0; s < frame.y.length; s++) {
      add(`a[${nL}] (sample ${s})`, last.a[s]);
      add(`y (sample ${s})`, frame.y[s]);
    }
    add("samples in the batch", frame.y.length);
    add("loss", loss);
    return out;
  }
  const t = ex.target;
  const l = t.layer;
  const L = frame.layers[l - 1];
  if (ex.ask === "z") {
    add(l === 1 ? `x = a[0] (sample ${i})` : `a[${l - 1}] (sample ${i})`, aPrev(frame, l)[i]);
    add(`W[${l}][·][${t.neuron}]`, L.W.map((row) => row[t.neuron]));
    add(`b[${l}][${t.neuron}]`, L.b[t.neuron]);
  } else if (ex.ask === "a") {
    add(`z[${l}][${t.neuron}] (sample ${i})`, L.z[i][t.neuron]);
    add("f", L.activation);
    if (L.activation === "softmax") add(`z[${l}] (all outputs)`, L.z[i]);
  } else if (ex.ask === "delta") {
    const k = t.neuron;
    if (l === nL) {
      add(`a[${l}][${k}]`, L.a[i][k]);
      add(`y[${k}]`, frame.y[i][k]);
      add("loss", loss);
      if (loss === "mse") add(`f'(z[${l}][${k}])`, slope(L.activation, L.z[i][k], L.a[i][k]));
    } else {
      const N = frame.layers[l];
      add(`δ[${l + 1}] (sample ${i})`, N.delta[i]);
      add(`W[${l + 1}][${k}][·]`, N.W[k]);
      add(`f'(z[${l}][${k}])`, slope(L.activation, L.z[i][k], L.a[i][k]));
    }
  } else if (ex.ask === "grad_W" || ex.ask === "grad_b") {
    const k = ex.ask === "grad_W" ? t.to : t.neuron;
    if (ex.ask === "grad_W") add(`a[${l - 1}][${t.from}] per sample`, aPrev(frame, l).map((r) => r[t.from]));
    add(`δ[${l}][${k}] per sample`, L.delta.map((r) => r[k]));
  } else {
    const isW = ex.ask !== "new_b";
    const cur = isW ? L.W[t.from][t.to] : L.b[t.neuron];
    const g = isW ? L.grad_W?.[t.from]?.[t.to] : L.grad_b?.[t.neuron];
    add(isW ? `W[${l}][${t.from}][${t.to}]` : `b[${l}][${t.neuron}]`, cur);
    if (g != null) add(isW ? `grad_W[${l}][${t.from}][${t.to}]` : `grad_b[${l}][${t.neuron}]`, g);
    const r = isW ? L.regularization_grad_W?.[t.from]?.[t.to] : 0;
    if (isW && r) add("regularization gradient", r);
    add("learning rate η", frame.learning_rate);
    add("optimizer", optimizer);
  }
  return out;
}

/** A student's answer as a number ("up"/"down"/"+"/"-" for a sign), or null when it cannot be read. */
export function parseAnswer(text, ask) {
  const s = String(text ?? "").trim().toLowerCase().replace(/\u2212/g, "-").replace(/,/g, ".");
  if (ask === "dW_sign") {
    if (["up", "+", "+1", "1", "increase", "increases", "positive"].includes(s)) return 1;
    if (["down", "-", "-1", "decrease", "decreases", "negative"].includes(s)) return -1;
    if (["0", "same", "stays", "stay", "none", "unchanged", "zero"].includes(s)) return 0;
    return null;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/.test(s)) return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

/** How far an answer is from the truth: absolute and relative error, and whether it is within tolerance. */
export function grade(answer, truth, ask, tolerance = DEFAULT_TOLERANCE) {
  const absError = Math.abs(answer - truth);
  const relError = truth !== 0 ? absError / Math.abs(truth) : absError === 0 ? 0 : Infinity;
  if (ask === "dW_sign") return { correct: answer === truth, absError, relError };
  const tol = tolerance || DEFAULT_TOLERANCE;
  const correct = (tol.abs != null && absError <= tol.abs) || (tol.rel != null && relError <= tol.rel);
  return { correct, absError, relError };
}

const NAMES = { z: "weighted input z", a: "activation a", loss: "loss", delta: "error signal δ", grad_W: "gradient of the weight",
  grad_b: "gradient of the bias", dW_sign: "direction of the weight's change", new_W: "new weight", new_b: "new bias" };
export const describe = (ask) => NAMES[ask] || ask;

// the batch loss is asked only when every sample's a and y fit on the card
export const MAX_LOSS_ROWS = 16;

/** The last significant digit of a number shown with showNumber (4 significant digits). */
export const shownPrecision = (v) => (v === 0 ? 0 : 10 ** (Math.floor(Math.log10(Math.abs(v))) - 3));

/**
 * Why a question would not test anything on this frame (null: it is a fair question). `frame` holds the step's
 * numbers up to its backward pass at least. One rule for the quiz and the built-in lessons (app/lessons/runner.py).
 */
export function degenerate(ex, frame, tolerance = DEFAULT_TOLERANCE) {
  if (ex.ask === "loss") return frame.y.length > MAX_LOSS_ROWS ? `a batch of ${frame.y.length} is too long to add up by hand` : null;
  if (!["dW_sign", "new_W", "new_b"].includes(ex.ask)) return null;
  const t = ex.target;
  const L = frame.layers[t.layer - 1];
  const isB = ex.ask === "new_b";
  const g = isB ? L.grad_b[t.neuron] : L.grad_W[t.from][t.to] + (L.regularization_grad_W?.[t.from]?.[t.to] || 0);
  if (ex.ask === "dW_sign") return Math.abs(g) <= 1e-12 ? "the gradient is 0: the weight stays" : null;
  const w = isB ? L.b[t.neuron] : L.W[t.from][t.to];
  const change = updateChange(ex, frame);
  const tol = tolerance || DEFAULT_TOLERANCE;
  // copying the weight unchanged must be wrong, and the change must stand out of the digits the card prints
  const reach = Math.max(tol.abs ?? 0, (tol.rel ?? 0) * Math.abs(w - frame.learning_rate * g),
    2 * (shownPrecision(w) + frame.learning_rate * shownPrecision(g)));
  return change <= reach ? `the change ${change.toExponential(1)} is below what the card can show` : null;
}

/** A random question about the current network, for the quiz mode (`?quiz=1`); `ask` forces the kind. */
export function randomExercise(sizes, rand = Math.random, ask = null) {
  const asks = ["z", "a", "loss", "delta", "grad_W", "grad_b", "dW_sign", "new_W", "new_b"];
  ask = ask || asks[Math.floor(rand() * asks.length)];
  const L = sizes.length - 1;
  const layer = 1 + Math.floor(rand() * L);
  const pick = (n) => Math.floor(rand() * n);
  if (ask === "loss") return { ask, prompt: "What is the loss of this batch (the mean over its samples)?" };
  if (["z", "a", "delta", "grad_b", "new_b"].includes(ask)) {
    const neuron = pick(sizes[layer]);
    const of = ["grad_b", "new_b"].includes(ask) ? ` b[${layer}][${neuron}]` : ` of neuron ${neuron} in layer ${layer} (the focus sample)`;
    return { ask, target: { layer, neuron }, prompt: `What is the ${describe(ask)}${of}?` };
  }
  const from = pick(sizes[layer - 1]), to = pick(sizes[layer]);
  return { ask, target: { layer, from, to }, prompt: `What is the ${describe(ask)} W[${layer}][${from}][${to}]?` };
}

/** |η·g|: how far plain gradient descent moves a weight or bias (the regularization gradient included). */
function updateChange(ex, frame) {
  const t = ex.target;
  const L = frame.layers[t.layer - 1];
  const g = ex.ask === "new_b" ? L.grad_b[t.neuron] : L.grad_W[t.from][t.to] + (L.regularization_grad_W?.[t.from]?.[t.to] || 0);
  return Math.abs(frame.learning_rate * g);
}

/**
 * A fair random question on a frame that ran its backward pass: drawn again while the draw is degenerate. A new
 * weight or bias is graded within a quarter of its change, so that copying the old value is never right.
 */
export function quizExercise(sizes, frame, rand = Math.random, ask = null) {
  for (let tries = 0; tries < 200; tries++) {
    const ex = randomExercise(sizes, rand, ask);
    if (["new_W", "new_b"].includes(ex.ask)) ex.tolerance = { abs: updateChange(ex, frame) / 4 };
    if (!degenerate(ex, frame, ex.tolerance)) return ex;
  }
  return null;
}
