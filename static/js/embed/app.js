// The embedded widget: a compact live view (network, data/boundary, loss, controls) configured by the URL,
// driven by its own buttons, by a host page through postMessage (protocol.js), and by lessons (lesson.js).
// The widget is a mode of the page's controller (../controller.js): the views are the main page's own modules; only
// what the widget adds lives here (its options, lessons and exercises, the host page's channel).

import { api } from "../connection.js";
import { Controller, setSpeedRange, sliderToSpeed } from "../controller.js";
import { NetworkView } from "../network.js";
import { BoundaryView } from "../boundary.js";
import { Charts } from "../charts.js";
import { Inspector } from "../inspector.js";
import { DigitsView } from "../digits.js";
import { DEFAULTS, LIVE_FIELDS, loadConfigRules, parseUrl, toQuery, inputLabelsOf } from "../config.js";
import { sharedData } from "../shared-data.js";
import { fmt, applyTheme as setTheme } from "../palette.js";
import { isFull, focusOf } from "../frame.js";
import { HostChannel, studentMessage } from "./protocol.js";
import { ExerciseCard } from "./exercise-card.js";
import { PHASES, stepInProgress } from "./exercise.js";
import { LessonPlayer, loadLesson } from "./lesson.js";
import { watchUrl } from "../classroom.js";
import { hitHtml } from "../describe.js";
import { confusionTable } from "../confusion.js";
import { gradebook } from "./lti.js";

const $ = (id) => document.getElementById(id);
const root = $("embed-root");
// the hidden neurons show their pictures (heatmap over the input plane, or curve along x) from this size (CSS
// px) on: smaller ones stay plain colours, and the boundary messages then come without the neurons' grids
const PICTURE_MIN = 24;
// boundary messages with the neurons' grids: coarse, and a few a second at most while live
const PICTURE_RESOLUTION = 24, PICTURE_BOUNDARIES_PER_SECOND = 3;
const opts = readOptions(location.search, JSON.parse($("embed-settings").textContent || "{}"));

// what the widget adds to the controller (see ../controller.js)
const mode = {
  name: "widget", watching: opts.watch, pausedStepMs: [900, 2500], subscription,
  speedLabel: (sps) => `${sps < 10 ? +sps.toPrecision(2) : Math.round(sps)}/s`, // compact: the widget is small
  frameShown, metricsArrived, stateArrived, boundaryShown: (b) => boundary?.setBoundary(b),
  batchShown: (frame) => { if (!state.cardAt) markBatch(ctl.timeline.live ? null : frame); },
  diverged: (what) => {
    $("diverged").hidden = false;
    $("diverged-text").textContent = `The run diverged (${what}): the learning rate is too large for this network.`;
  },
  undiverged: () => { $("diverged").hidden = true; },
  ended: () => { $("ended").hidden = false; $("watch-bar").hidden = true; },
  followingShown: (following) => { $("btn-follow").hidden = following; },
  addressChanged: updateOpenLink, draw,
};

applyTheme(opts);
showPanels(opts);
const network = opts.panels.has("network") ? new NetworkView($("network"), {
  onSelect: (sel) => { ctl.follower?.explore(); ctl.select(sel); },
  onHover: (hit, e) => showTooltip(hit, e),
  pictureMin: PICTURE_MIN,
}) : null;
const boundary = opts.panels.has("data") ? new BoundaryView($("boundary")) : null;
const charts = opts.panels.has("loss") ? new Charts({ loss: $("chart-loss"), acc: $("chart-acc"), grad: $("chart-grad") }) : null;
const inspector = opts.panels.has("inspector") ? new Inspector($("inspector"), $("inspector-hint")) : null;
const digits = opts.panels.has("data") ? new DigitsView($("digit-input"), $("digit-bars"), $("digit-target")) : null;
const ctl = new Controller(mode, { network, boundary, charts, inspector });
const { conn, timeline, state, steps } = ctl;
Object.assign(state, {
  speed: opts.speed, digitsRow: null, pendingStep: null, busy: false, pictures: false,
  // the step whose phases the widget ran itself (lesson step_phase, exercises): {frames: {phase: full frame},
  // latest, before: the frame shown before its first phase}; a chain of exercises stays on it
  owned: null, cardAt: null,
  // a lesson's panels, and what its current step shows besides them (docs/LESSONS.md, "show")
  lessonPanels: null, views: new Set(), previousRun: null,
});
const host = new HostChannel({ allowed: opts.hostOrigins, onCommand: (cmd) => onHostCommand(cmd) });
const card = new ExerciseCard($("exercise"), { onHighlight: highlight });
const setPlaying = (playing, send) => ctl.setPlaying(playing, send);
const setSpeed = (sps) => ctl.setSpeed(sps);
const subscribe = () => ctl.subscribe();
const setPoints = (d) => ctl.setPoints(d);

/** The batch of a frame on the data plot, its focus sample (or `sample`) ringed. */
function markBatch(frame, sample = null) {
  ctl.highlightBatch(frame, sample);
  boundary?.draw();
}

ctl.exposeTestHooks({
  get host() { return host; },
  get lesson() { return player; },
  get busy() { return state.busy; },
  get confusionStep() { return confusionShown ? confusionShown.step : null; },
  get cardAt() { return state.cardAt; },
  options: opts,
});

// ---------- options from the URL ----------

function readOptions(search, server) {
  const q = new URLSearchParams(search);
  const { config, ui } = parseUrl(search);
  const list = (key, all, dflt) => {
    if (!q.has(key)) return new Set(dflt);
    const raw = q.get(key).trim();
    if (raw === "" || raw === "none") return new Set();
    return new Set(raw.split(",").map((s) => s.trim()).filter((s) => all.includes(s)));
  };
  const flag = (key, dflt = false) => (q.has(key) ? !["0", "false", "no", "off"].includes(q.get(key).toLowerCase()) : dflt);
  const serverOrigins = server.embed_origins || [];
  let hostOrigins = serverOrigins;
  if (q.has("host_origin")) {
    // an embedder may narrow the allow-list to its own origin (never widen the server's)
    const own = q.get("host_origin").split(",").map((s) => s.trim().replace(/\/$/, "").toLowerCase()).filter(Boolean);
    hostOrigins = serverOrigins.length ? own.filter((o) => serverOrigins.includes(o)) : own;
    if (!hostOrigins.length) hostOrigins = serverOrigins.length ? serverOrigins : own;
  }
  const speed = Number(q.get("speed") ?? ui.speed ?? 5); // the controller keeps it within the server's range
  const watch = /^[A-Za-z0-9_.-]{1,80}$/.test(q.get("watch") || "") ? q.get("watch") : null;
  return {
    watch,
    config, preset: ui.preset || null, data: ui.data || null,
    // a lesson shows the panels its file declares (all views are made, then hidden as it says)
    panels: list("panels", ["network", "data", "loss", "inspector"], q.has("lesson") || q.has("lesson_url") ? ["network", "data", "loss", "inspector"] : ["network", "data", "loss"]),
    panelsGiven: q.has("panels"),
    controls: watch ? new Set() : list("controls", ["play", "step", "step_phase", "reset", "speed"], ["play", "step", "step_phase", "reset"]),
    theme: ["light", "dark", "auto"].includes(q.get("theme")) ? q.get("theme") : "light",
    autoplay: flag("autoplay"),
    quiz: flag("quiz"),
    lesson: q.get("lesson"), lessonUrl: q.get("lesson_url"), lti: q.get("lti"),
    speed: Number.isFinite(speed) && speed > 0 ? speed : 5,
    speedGiven: q.has("speed") || q.has("sp"), // the embedder's speed wins over a lesson's
    hostOrigins,
    title: q.get("title"),
  };
}

function applyTheme(o) {
  const dark = o.theme === "dark" || (o.theme === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
  setTheme(dark);
}

function showPanels(o) {
  for (const name of ["network", "data", "loss", "inspector"]) $(`panel-${name}`).hidden = !o.panels.has(name);
  if (o.lessonPanels) showViews([...state.views]);
  for (const name of ["play", "step", "step_phase", "reset", "speed"]) {
    const el = root.querySelector(`[data-control="${name}"]`);
    if (el) el.hidden = !o.controls.has(name);
  }
  $("controls").hidden = o.controls.size === 0 && !o.watch;
  $("watch-bar").hidden = !o.watch;
  root.dataset.panels = [...o.panels].join(" ");
  if (o.title) $("embed-title").textContent = o.title;
}

// ---------- the session ----------

async function startSession(request) {
  const session = await api("POST", "/api/sessions", request);
  const old = state.session;
  applySession(session);
  if (old && old.id !== session.id) conn.deleteSession(old.id);
  conn.open(session.id);
  subscribe();
  conn.getData().then((d) => { if (state.session?.id === session.id) setPoints(d); }).catch(() => {});
  refreshBoundary();
  updateOpenLink();
  return session;
}

function applySession(session) {
  state.owned = null;
  // a step that compares with the previous run keeps that run's loss curves beside the new ones
  if (charts && state.views.has("previous_run") && charts.metrics.cols[0].length) state.previousRun = charts.metrics.cols.map((c) => c.slice());
  ctl.applySession(session);
  charts?.setPrevious(state.views.has("previous_run") ? state.previousRun : null);
  const isDigits = session.input_dim > 2;
  if (boundary) { $("boundary-wrap").hidden = isDigits; $("digits-view").hidden = !isDigits; }
}

function refreshBoundary() {
  if (!boundary || !state.session || state.session.input_dim > 2) return;
  conn.getBoundary(40, false).then((b) => { boundary.setBoundary(b); }).catch(() => {});
}

/** Whether the hidden neurons are drawn large enough for their pictures (1-D or 2-D data only). */
function picturesReadable() {
  if (!network || !state.session || state.session.input_dim > 2) return false;
  if (state.views.has("tooltips")) return true; // the tooltip shows a neuron's picture however small it is drawn
  return network.cols.slice(1, -1).some((c) => c.s >= PICTURE_MIN);
}

/** The widget's subscription: the neurons' pictures only where they are drawn large enough to read. */
function subscription(live, perSecond) {
  state.pictures = picturesReadable();
  const wanted = (boundary || state.pictures) && state.session?.input_dim <= 2;
  return {
    detail: live ? "summary" : "full",
    boundary_every: !wanted ? 0 : live ? perSecond(state.pictures ? PICTURE_BOUNDARIES_PER_SECOND : 6) : 1,
    boundary_resolution: state.pictures ? PICTURE_RESOLUTION : 40,
    neurons: state.pictures,
    metrics_every: live ? perSecond(10) : 1,
  };
}
// the neurons' size changes with the widget's: their pictures come or go
if (network) network.onLayout = () => { if (state.session && picturesReadable() !== state.pictures) subscribe(); };

function currentRequest() {
  const cfg = { ...state.session.config };
  return cfg;
}

function updateOpenLink() {
  const a = $("open-full");
  if (!a || !state.session) return;
  a.href = opts.watch ? watchUrl(opts.watch) : `/${toQuery(currentRequest(), { speed: state.speed, data: opts.data })}`;
}

// ---------- messages from the server ----------

conn.on("hello", (msg) => {
  if (opts.watch) { watched(msg); return; }
  state.catchUp = !!msg.frame_follows; // joining mid-run: the current step's frame follows, shown as it is
  // a new hello follows a structural change made by any client: show the rebuilt run
  if (msg.state && msg.state.W && state.session && (JSON.stringify(msg.state.sizes) !== JSON.stringify(state.sizes) ||
      JSON.stringify(msg.state.config) !== JSON.stringify(state.session.config) || msg.state.step !== state.session.step)) {
    applySession({ ...msg.state, id: state.session.id });
    refreshBoundary();
    subscribe();
  }
  if (msg.data && msg.data.train) setPoints(msg.data);
  if (msg.state) { state.runState = msg.state.state; if (typeof msg.state.playing === "boolean") setPlaying(msg.state.playing, false); }
});
/** Every `state` message goes on to the host page, and to the commands waiting for one. */
function stateArrived(s) {
  host.post("state", { playing: s.playing, step: s.step, state: s.state, next_phase: s.next_phase, steps_per_second: s.steps_per_second, diverged: s.diverged });
  for (const w of stateWaiters.splice(0)) w(s);
}
conn.on("error", (msg) => {
  if (msg.code === "diverged") ctl.showDiverged(msg.message);
  hostError(msg.code || "internal_error", msg.message || "", { field: msg.field ?? null });
});
conn.on("session_lost", () => {
  if (opts.watch) { host.post("error", { code: "session_lost", message: "the session expired or was deleted" }); ctl.showEnded(); } else hostError("session_lost", "the session expired or was deleted");
});
conn.on("refused", () => hostError("too_many_clients", "the run has as many clients as the server allows"));

/** An error: every detail to the host page (`error` event), a plain sentence to the student when it concerns them. */
function hostError(code, message, fields = {}) {
  host.post("error", { code, message, field: null, ...fields });
  const text = studentMessage(code);
  if (text) showToast(text);
}
const stateWaiters = [];
const frameWaiters = [];

/** After a new frame: the host page hears of its phase, and of the step once its update is done. */
function frameShown(frame) {
  host.post("phase", { step: frame.step, phase: frame.phase, state: frame.state, next_phase: frame.next_phase, loss: frame.loss, diverged: frame.diverged });
  if (frame.phase === "update") queueStepEvent(frame);
  for (const w of frameWaiters.splice(0)) w(frame);
}

function metricsArrived(m) {
  if (state.pendingStep && m.step === state.pendingStep.step) flushStepEvent();
}

// the `step` event carries the step's batch loss and the metrics (whole train and test sets) after it
function queueStepEvent(frame) {
  if (state.pendingStep) flushStepEvent();
  state.pendingStep = { step: frame.step, loss: frame.loss, regularization_loss: frame.regularization_loss, diverged: frame.diverged };
  state.pendingTimer = setTimeout(flushStepEvent, 400);
}
function flushStepEvent() {
  const p = state.pendingStep;
  if (!p) return;
  clearTimeout(state.pendingTimer);
  state.pendingStep = null;
  const m = state.metrics && state.metrics.step === p.step ? state.metrics : null;
  host.post("step", { ...p, metrics: m ? { train_loss: m.train_loss, test_loss: m.test_loss, train_accuracy: m.train_accuracy ?? null, test_accuracy: m.test_accuracy ?? null } : null });
}

// ---------- watching a teacher's run ----------

/** Every hello of the watched run (the first, and after each reset or rebuild) shows it anew. */
function watched(msg) {
  const first = !state.session;
  ctl.watched(msg);
  updateOpenLink();
  if (first) {
    ctl.start();
    host.post("ready", { session: { view_id: opts.watch }, config: msg.state.config, sizes: msg.state.sizes, step: msg.state.step, lesson: null, watching: true, protocol: { commands: ["get_state"] } });
    reportHeight();
  }
}

/**
 * The counters follow the animation: the last step whose update the diagram has applied, with the train loss
 * measured after it, and the phase being animated. In slow motion a step's frame and metrics arrive while the
 * diagram still shows the step before; in the live view the latest step shows.
 */
let shown = {};
function updateCounters(view, settled) {
  const card = state.cardAt; // an open exercise card: the step and phase it talks about
  const step = card ? card.step : view.phase === "live" ? view.frame?.step ?? 0 : Math.max(0, settled);
  const m = steps.metrics.at(settled);
  const phase = card ? `${card.phase}${card.held ? " (answer hidden)" : " next"}` : view.phase === "live" ? "live" : view.frame?.phase == null ? "ready" : view.phase;
  if (step === shown.step && m === shown.m && phase === shown.phase) return;
  shown = { step, m, phase };
  $("step-count").textContent = step;
  $("loss-value").textContent = m && m.train_loss != null ? fmt(m.train_loss, 4) : "–";
  $("acc-value").textContent = m && m.test_accuracy != null ? `${(100 * m.test_accuracy).toFixed(1)} %` : "–";
  $("phase-label").textContent = phase;
}

/**
 * The confusion matrix of the test set, at the steps that show it: like the counters, the one measured after the
 * last update the diagram has applied.
 */
let confusionShown = null; // the metrics whose matrix is on screen
function updateConfusion(settled) {
  const m = state.views.has("confusion") ? steps.metrics.at(settled) : null;
  const shown = m?.confusion ? m : null;
  if (shown === confusionShown) return;
  confusionShown = shown;
  const wrap = $("confusion-wrap");
  wrap.hidden = !shown;
  wrap.innerHTML = shown ? confusionTable(shown.confusion, "Confusion matrix of the test set <small>(rows: true class, columns: predicted)</small>") : "";
}

/** What a lesson step shows besides the lesson's panels: the panels those views live in, and the views. */
function showViews(views) {
  state.views = new Set(views);
  const panels = new Set(opts.lessonPanels || opts.panels);
  if (state.views.has("inspector")) panels.add("inspector");
  if (["accuracy", "grad_norms", "previous_run"].some((v) => state.views.has(v))) panels.add("loss");
  if (state.views.has("tooltips")) panels.add("network");
  if (state.views.has("confusion")) panels.add("data");
  for (const name of ["network", "data", "loss", "inspector"]) $(`panel-${name}`).hidden = !panels.has(name);
  root.dataset.panels = [...panels].filter((p) => $(`panel-${p}`)).join(" ");
  root.dataset.show = views.join(" ");
  $("acc-box").hidden = !state.views.has("accuracy");
  $("chart-grad").hidden = !state.views.has("grad_norms");
  if (!state.views.has("previous_run")) { state.previousRun = null; charts?.setPrevious(null); }
  if (state.session) subscribe();
}

/** A neuron's or a weight's numbers where the pointer is, with the neuron's picture drawn large. */
function showTooltip(hit, e) {
  const tip = $("net-tooltip");
  const f = timeline.frame;
  if (!hit || !e || !f || !f.layers?.length) { tip.hidden = true; return; }
  tip.innerHTML = hitHtml(hit, f, state.sizes, network.inputLabels);
  const img = hit.kind === "neuron" ? network.images.get(`${hit.l}:${hit.k}`) : null;
  if (img instanceof HTMLCanvasElement) {
    const big = document.createElement("canvas");
    big.width = img.width; big.height = img.height;
    big.getContext("2d").drawImage(img, 0, 0);
    tip.appendChild(big);
  }
  tip.hidden = false;
  const r = $("panel-network").getBoundingClientRect();
  const x = e.clientX - r.left, y = e.clientY - r.top;
  tip.style.left = `${Math.max(0, Math.min(x + 14, r.width - tip.offsetWidth))}px`;
  tip.style.top = `${Math.max(0, Math.min(y + 14, r.height - tip.offsetHeight))}px`;
}

let toastTimer = null;
function showToast(text) {
  const t = $("toast");
  t.textContent = text; t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

$("btn-play").addEventListener("click", () => setPlaying(!state.playing));
$("btn-step").addEventListener("click", () => ctl.step());
$("btn-step-phase").addEventListener("click", () => ctl.stepPhase());
$("btn-reset").addEventListener("click", () => commands.reset().catch((e) => showToast(e.message)));
$("btn-diverged-reset").addEventListener("click", () => commands.reset().catch((e) => showToast(e.message)));
$("speed")?.addEventListener("input", (e) => setSpeed(sliderToSpeed(Number(e.target.value))));

// ---------- the commands: what lessons, exercises and the host API do to the run ----------

function waitFor(list, test, ms = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not answer in time")), ms);
    const check = (v) => { if (test(v)) { clearTimeout(timer); resolve(v); } else list.push(check); };
    list.push(check);
  });
}

async function pauseAndSettle() {
  if (!state.playing) return;
  const done = waitFor(stateWaiters, (s) => s.playing === false, 5000).catch(() => null);
  setPlaying(false);
  await done;
}

const commands = {
  get sizes() { return state.sizes; },
  get session() { return state.session; },
  async reset(seed = null, data_seed = null) {
    await pauseAndSettle();
    const s = await api("POST", `/api/sessions/${state.session.id}/reset`, { seed, data_seed });
    applySession(s);
    if (data_seed != null) conn.getData().then(setPoints).catch(() => {});
    refreshBoundary();
  },
  async setConfig(config, reset = false) {
    const live = Object.keys(config).every((k) => LIVE_FIELDS.has(k));
    if (!live) await pauseAndSettle();
    const s = await api("PATCH", `/api/sessions/${state.session.id}${reset ? "?reset=true" : ""}`, config);
    const rebuilt = JSON.stringify(s.sizes) !== JSON.stringify(state.sizes) || s.step !== state.session.step || !live;
    if (rebuilt) {
      applySession(s);
      conn.getData().then(setPoints).catch(() => {});
      refreshBoundary();
      subscribe();
    } else state.session = { ...state.session, config: s.config };
    inspector?.setConfig(s.config, s.sizes, inputLabelsOf(s));
    updateOpenLink();
  },
  async step(count = 1) {
    await pauseAndSettle();
    state.owned = null;
    const frame = await api("POST", `/api/sessions/${state.session.id}/step`, { phase: "full", count, detail: "summary" });
    state.session.step = frame.step;
    refreshBoundary();
    return frame;
  },
  async stepPhase(until = null) {
    await pauseAndSettle();
    const next = until || nextPhase();
    const frame = await api("POST", `/api/sessions/${state.session.id}/step`, { phase: next, count: 1, detail: "full" });
    own(frame);
    return frame;
  },
  async play() { state.owned = null; setSpeed(state.speed); setPlaying(true); },
  async pause() { await pauseAndSettle(); },
  setSpeed(sps) { setSpeed(sps); },
  async playUntil(target, sps = null) {
    state.owned = null;
    const s0 = await api("GET", `/api/sessions/${state.session.id}`);
    if (s0.step >= target || s0.diverged) return;
    if (sps && !opts.speedGiven) setSpeed(sps);
    const margin = Math.max(2, Math.ceil(state.speed * 0.4));
    if (target - s0.step > margin) {
      const reached = waitFor(frameWaiters, (f) => f.diverged || (f.phase === "update" && f.step >= target - margin), 600000);
      setPlaying(true);
      await reached;
      await pauseAndSettle();
    }
    const s1 = await api("GET", `/api/sessions/${state.session.id}`);
    if (!s1.diverged && s1.step < target) {
      await api("POST", `/api/sessions/${state.session.id}/step`, { phase: "full", count: target - s1.step, detail: "summary" });
    }
    refreshBoundary();
  },
  highlight,
  showViews,
  async exercise(ex) { return runExercise(ex); },
  async getState() { return api("GET", `/api/sessions/${state.session.id}`); },
};

function nextPhase() {
  return { ready: "forward", updated: "forward", forwarded: "loss", loss_computed: "backward", backpropagated: "update" }[state.runState] || "forward";
}

function highlight(target) {
  if (!network) return;
  let sel = null;
  if (target && "neuron" in target && target.from === undefined) sel = { kind: "neuron", l: target.layer, k: target.neuron };
  else if (target && "from" in target) sel = { kind: "edge", l: target.layer, j: target.from, k: target.to };
  network.selection = sel;
  network.dirty = true;
  if (inspector) { if (sel) inspector.open(sel); else inspector.close(); }
}

// ---------- exercises ----------

/** A full frame of a step the widget ran itself (REST): the run's latest, and a link of a chain of exercises. */
function own(frame) {
  state.latestFull = frame;
  state.runState = frame.state;
  if (state.owned?.latest.step !== frame.step) state.owned = { frames: {}, before: frameBefore(frame.step), latest: frame };
  state.owned.frames[frame.phase] = frame;
  state.owned.latest = frame;
}

/** The last frame shown of an earlier step than `step` (what the views showed before it began). */
function frameBefore(step) {
  return [timeline.frame, state.latest, state.previousStep].find((f) => f && f.step < step) || null;
}

/** Whether the session's current step is the one the widget holds every number of (see positionPlan). */
function keptStep(sess) {
  const o = state.owned?.latest;
  return !!o && o.state === sess.state && o.step === stepInProgress(sess.state, sess.step);
}

/** The views show again what the server sent while an exercise held them back. */
function release() {
  if (!ctl.held) return;
  if (!ctl.release().length && state.owned) timeline.show(state.owned.latest);
}

async function runExercise(ex) {
  state.busy = true;
  try {
    await pauseAndSettle();
    const sess = await commands.getState();
    state.runState = sess.state;
    const result = await card.run(ex, {
      state: sess.state,
      kept: keptStep(sess),
      sampleNote: !boundary || $("panel-data").hidden ? "" : state.session.input_dim > 2 ? "its image is in the data panel" : "ringed on the data plot",
      config: sess.config,
      stepTo: async (phase, hold) => {
        if (hold) { ctl.hold(); }
        const frame = await api("POST", `/api/sessions/${state.session.id}/step`, { phase, count: 1, detail: "full" });
        own(frame);
        return frame;
      },
      latestFull: () => state.owned?.latest || state.latestFull,
      rewind: (phase) => {
        // the views go back to the step as it was before the phase the question is about
        const o = state.owned;
        const earlier = PHASES.slice(0, PHASES.indexOf(phase)).reverse().map((p) => o.frames[p]).find(Boolean);
        ctl.hold();
        timeline.show(earlier || o.before || timeline.frame);
        if (network) network.dirty = true;
      },
      release,
      showAt: ({ step, phase, held, frame, sample }) => {
        state.cardAt = { step, phase, held };
        markBatch(frame, sample);
      },
    });
    host.post("exercise", result);
    if (player) toGradebook?.(player.index, result);
    return result;
  } finally {
    release();
    state.cardAt = null;
    state.busy = false;
  }
}

// a lesson launched from a graded LTI link: each exercise's result becomes a score in the course's gradebook
const toGradebook = gradebook(opts.lti, {
  onScore: (s) => showToast(`Saved to your course: ${s.scoreGiven} of ${s.scoreMaximum} exercises correct.`),
  onError: (err) => hostError(err.code || "gradebook_failed", err.message),
});

// ---------- the host API ----------

async function onHostCommand(cmd) {
  if (opts.watch && cmd.type !== "get_state") {
    host.post("error", { code: "read_only", message: "this widget watches a run (?watch=): it cannot change it", request: cmd.type, field: null });
    return;
  }
  try {
    switch (cmd.type) {
      case "play": setPlaying(true); break;
      case "pause": setPlaying(false); break;
      case "step": ctl.step(cmd.count || 1); break;
      case "step_phase": if (cmd.until) await commands.stepPhase(cmd.until); else ctl.stepPhase(); break;
      case "reset": await commands.reset(cmd.seed ?? null, cmd.data_seed ?? null); break;
      // through the WebSocket: a refusal (e.g. needs_reset) comes back as an `error` event
      case "set_config": conn.setConfig(cmd.config, !!cmd.reset); break;
      case "set_speed": setSpeed(cmd.steps_per_second); break;
      case "get_state": {
        const s = opts.watch ? await api("GET", `/api/sessions/${opts.watch}`) : await commands.getState();
        host.post("state", { playing: s.playing, step: s.step, state: s.state, next_phase: s.next_phase, steps_per_second: s.steps_per_second, diverged: s.diverged, config: s.config, metrics: s.metrics });
        break;
      }
      default: break;
    }
  } catch (err) {
    const code = err.code || (err.status === 422 ? "invalid_config" : "command_failed");
    hostError(code, err.message, { request: cmd.type, field: err.body?.detail?.[0]?.loc?.slice(1).join(".") || err.body?.detail?.field || null });
  }
}

// ---------- height: the host sizes the iframe to the content ----------

let lastHeight = 0;
function reportHeight() {
  const h = Math.ceil(root.getBoundingClientRect().height);
  if (h && Math.abs(h - lastHeight) >= 1) { lastHeight = h; host.post("resize", { height: h, width: Math.ceil(root.getBoundingClientRect().width) }); }
}
new ResizeObserver(reportHeight).observe(root);

// ---------- drawing ----------

/** Every animation frame, after the diagram (controller.loop): the digits, the counters, the confusion matrix. */
function draw(view, settled, now) {
  if (digits && state.session?.input_dim > 2 && view.frame) {
    if (isFull(view.frame)) { digits.draw(view.frame); state.digitsRow = view.frame.batch_indices?.[focusOf(view.frame)] ?? state.digitsRow; } else digitsNow(view.frame, now);
  }
  updateCounters(view, settled);
  updateConfusion(settled);
}

/**
 * A frame without per-sample numbers (before the first step, or trained too fast to animate): the digits view
 * shows the latest focus sample (the first training image before any) with what the network predicts for it now.
 */
let digitsAsked = { key: null, at: 0 };
function digitsNow(frame, now) {
  const row = state.digitsRow ?? 0;
  const x = state.points?.train?.x?.[row];
  const key = `${state.session.id}|${frame.step}|${frame.phase}|${row}`;
  if (!x || key === digitsAsked.key || now - digitsAsked.at < 250) return;
  digitsAsked = { key, at: now };
  const label = state.points.train.y[row];
  api("POST", `/api/sessions/${state.session.id}/predict`, { x: [x] }).then((p) => {
    if (digitsAsked.key !== key) return;
    const out = p.output[0];
    digits.draw({ detail: "full", focus_index: 0, a0: [x], y: [out.map((_, c) => (c === label ? 1 : 0))], layers: [{ a: [out] }] });
  }).catch(() => {});
}

// ---------- start ----------

let player = null;

async function main() {
  if (opts.watch) {
    $("btn-follow").addEventListener("click", () => ctl.follower.follow());
    conn.open(opts.watch);
    subscribe();
    return;
  }
  // the server's rules: defaults, live fields, the speed range, the data sets (which have a plane of two inputs)
  const rules = Promise.all([
    loadConfigRules(api),
    api("GET", "/api/limits").then((limits) => setSpeedRange(limits.steps_per_second)).catch(() => {}),
    api("GET", "/api/datasets").catch(() => []),
  ]);
  const lesson = opts.lesson || opts.lessonUrl ? await openLesson() : null;
  const [, , datasets] = await rules;
  const request = await firstRequest(lesson, datasets);
  if (lesson?.view?.steps_per_second && !opts.speedGiven) state.speed = lesson.view.steps_per_second;
  if (lesson) {
    // the lesson's panels (with the embedder's own ?panels= added); its controls unless it leaves them out
    const declared = lesson.view?.panels || ["network", "data", "loss", "inspector", "controls"];
    opts.lessonPanels = new Set([...declared.filter((p) => ["network", "data", "loss", "inspector"].includes(p)), ...(opts.panelsGiven ? opts.panels : [])]);
    if (!declared.includes("controls")) { opts.controls = new Set(); }
    showPanels(opts);
  }
  let session;
  try { session = await startSession(request); } catch (err) {
    hostError("config_refused", err.message);
    session = await startSession({});
  }
  setSpeed(state.speed);
  ctl.start();
  if (lesson) {
    player = new LessonPlayer($("lesson"), lesson, commands, { onChange: (info) => host.post("lesson", info) });
    $("lesson").hidden = false;
    player.show(0);
  } else if (opts.quiz) {
    $("quiz").hidden = false;
    $("btn-quiz").addEventListener("click", () => quiz());
  }
  host.post("ready", {
    session: { view_id: session.view_id }, config: session.config, sizes: session.sizes, step: session.step,
    lesson: lesson ? { id: lesson.id, title: lesson.title, steps: lesson.steps.length } : null, protocol: { commands: ["play", "pause", "step", "step_phase", "reset", "set_config", "set_speed", "get_state"] },
  });
  reportHeight();
  if (opts.autoplay && !lesson) setPlaying(true);
}

/** The lesson the address names, or null (the widget says why, and so does its `error` event to the host). */
async function openLesson() {
  try { return await loadLesson({ id: opts.lesson, url: opts.lessonUrl }); } catch (err) {
    $("lesson").hidden = false;
    $("lesson").innerHTML = `<p class="lesson-error" role="alert"></p>`;
    $("lesson").firstChild.textContent = err.message;
    hostError("lesson_invalid", err.message);
    return null;
  }
}

/** The first run's setup: the lesson's, a preset's, or the defaults with the address's changes. */
async function firstRequest(lesson, datasets) {
  const request = lesson ? { ...lesson.config } : opts.preset ? { preset: opts.preset, ...opts.config } : { ...DEFAULTS, ...opts.config };
  for (const k of ["output_activation", "loss"]) if (request[k] == null) delete request[k];
  const planar = datasets.some((d) => d.name === request.dataset && d.input_dim === 2);
  if (!lesson && request.dataset && !planar && !opts.config.features) delete request.features;
  if (!lesson && request.dataset === "custom") { // a run on its author's own data: kept on the server by its hash
    try { request.custom_data = await sharedData(opts.data); } catch (err) {
      hostError(err.code || "dataset_not_found", err.message);
      request.dataset = DEFAULTS.dataset;
    }
  }
  return request;
}

/** A question about a new step, run to its backward pass out of sight: any kind can be asked about its focus sample. */
async function quiz() {
  const { quizExercise } = await import("./exercise.js");
  $("btn-quiz").disabled = true;
  try {
    await pauseAndSettle();
    ctl.hold();
    const sess = await commands.getState();
    if (!["ready", "updated"].includes(sess.state)) await commands.stepPhase("update");
    const frame = await commands.stepPhase("backward");
    const ex = quizExercise(state.sizes, frame);
    if (ex) await runExercise(ex);
    else showToast("This step has no question worth asking: try again.");
  } catch (err) { showToast(err.message); } finally { release(); }
  $("btn-quiz").disabled = false;
}

main().catch((err) => hostError("start_failed", err.message));
