// Wiring: the connection's messages feed the timeline and the views; the controls send commands back.

import { api } from "./connection.js";
import { Controller, initialFrame, setSpeedRange, sliderToSpeed } from "./controller.js";
import { Timeline, stepInProgress } from "./timeline.js";
import { NetworkView } from "./network.js";
import { BoundaryView } from "./boundary.js";
import { Charts } from "./charts.js";
import { Inspector } from "./inspector.js";
import { ConfigPanel, CUSTOM_LIMITS, DEFAULTS, LIVE_FIELDS, loadConfigRules, parseUrl, toQuery } from "./config.js";
import { DigitsView } from "./digits.js";
import { bindKeys } from "./keyboard.js";
import { showPhase } from "./phase-bar.js";
import { fmt, applyTheme } from "./palette.js";
import { isFull } from "./frame.js";
import { hitHtml } from "./describe.js";
import { confusionTable } from "./confusion.js";
import { Presenter, audienceText, withFocus } from "./classroom.js";
import { Scrubber } from "./scrubber.js";
import { PointEditor } from "./data-points.js";
import { shareData, sharedData } from "./shared-data.js";

const $ = (id) => document.getElementById(id);

// page: the teacher's (or anyone's) own run; viewer: /watch/{view id}, a class watching a run read-only
const VIEWER = document.body.dataset.mode === "viewer";
const WATCH_ID = document.body.dataset.watch || null;

// ---------- theme: the system's, or the one chosen with the button (kept in the address as theme=dark|light) ----------
const systemDark = matchMedia("(prefers-color-scheme: dark)");
let chosenTheme = parseUrl(location.search).ui.theme || null;
const isDark = () => (chosenTheme ? chosenTheme === "dark" : systemDark.matches);
applyTheme(isDark());

// a past step brought back with the timeline under the charts: shown instead of the live run's frames, which go on
// arriving (and are kept) meanwhile
const pastTimeline = new Timeline();
const PAST_STEP_MS = 2400; // a past step's four phases play once, then its update stays
/** The timeline the diagram and the inspector show: the past step's while scrubbed back, else the live one. */
const shownTimeline = () => (scrubber.scrubbed && pastTimeline.frame ? pastTimeline : timeline);
// what this page adds to the controller (static/js/controller.js): the viewer page watches, the page controls
const mode = {
  name: VIEWER ? "viewer" : "page", watching: WATCH_ID, pausedStepMs: [1400, 5000], subscription,
  frameShown, metricsArrived: (m) => { if (m.step != null) state.stepShown = m.step; }, stateArrived: applyState,
  boundaryShown: (b) => { boundary.boundary = b; state.boundaryDirty = true; }, batchShown: showBatch,
  diverged: divergedShown, undiverged: hideBanner, ended: endedShown, followed: followedTeacher, followingShown: showFollowing,
  addressChanged: updateUrl, view: (now) => { pastTimeline.tick(now); return ownFocus(shownTimeline().view(now)); }, draw,
};

const network = new NetworkView($("network"), {
  onSelect: (sel) => {
    ctl.follower?.explore();
    ctl.select(sel);
    editor.select(scrubber.scrubbed ? null : sel, valueOf(sel));
    // on a phone the inspector is far below the diagram: bring it into view
    if (sel && window.innerWidth < 720) setTimeout(() => $("h-inspector").scrollIntoView({ behavior: "smooth", block: "start" }), 50);
  },
  onHover: (hit, e) => showTooltip(hit, e),
  onCursor: (hit, at) => showTooltip(hit, at, { keyboard: true }),
  keyboard: true,
});
const boundary = new BoundaryView($("boundary"));
// the user's own data: a CSV (the data panel's form) and points clicked on the data plane
// the CSV form's module loads when the form is first opened (most visits never open it)
let ownData = null;
if (!VIEWER) {
  $("own-data").addEventListener("toggle", async (e) => {
    if (!e.target.open || ownData) return;
    const { OwnDataForm } = await import("./own-data.js");
    ownData ||= new OwnDataForm({ use: (parsed) => useOwnData(parsed.custom) });
  });
}
const pointEditor = VIEWER ? null : new PointEditor($("boundary"), boundary, {
  change: (custom) => useOwnData(custom).catch((err) => pointEditor.say(`That change was refused: ${err.message}`)),
  limits: CUSTOM_LIMITS,
});

/**
 * A run on `custom` (the API's custom_data): the run is rebuilt on it, as for any other change of data. A refusal
 * leaves the run, and the data the page edits, as they were (and rejects, for the form to say why).
 */
function useOwnData(custom) {
  const inputs = custom.x[0].length;
  const before = state.ownData;
  state.ownData = custom;
  panel.custom = customInfo(custom);
  panel.config = {
    ...panel.config, dataset: "custom", custom_data: custom, output_activation: null, loss: null,
    features: inputs === 2 ? panel.config.features || ["x1", "x2"] : null,
  };
  state.outputAuto = true;
  state.dataHash = null;
  panel.render();
  return rebuild(panel.request(), { throws: true }).then(() => keepOwnData(custom), (err) => {
    state.ownData = before;
    if (state.session) pointEditor?.setRun(state.session);
    throw err;
  });
}

function ownDataInfo(task, inputs, classes) {
  return { name: "custom", title: "Your own data", task, inputs, classes };
}
const customInfo = (custom) => ownDataInfo(custom.task, custom.x[0].length, custom.task === "classification" ? Math.max(...custom.y) + 1 : 0);

/**
 * The data of a run on one's own data is kept on the server (POST /api/datasets), so that the address, and the
 * Share link taken from it, can carry its hash: once the data has stopped changing for a moment (clicked points).
 */
let keepTimer = null;
function keepOwnData(custom) {
  clearTimeout(keepTimer);
  keepTimer = setTimeout(async () => {
    try {
      const id = await shareData(custom);
      if (state.ownData !== custom) return;
      state.dataHash = id;
      updateUrl();
    } catch (err) { showToast(`Your data could not be kept for a link: ${err.message}`); }
  }, 800);
}
const charts = new Charts({ loss: $("chart-loss"), acc: $("chart-acc"), grad: $("chart-grad") });
const inspector = new Inspector($("inspector"), $("inspector-hint"), {
  idleHint: "Click a neuron or a connection in the network, or Tab to the diagram and walk it with the arrow keys.",
});
const ctl = new Controller(mode, { network, boundary, charts, inspector });
const { conn, timeline, state } = ctl;
Object.assign(state, {
  role: "controller", boundaryDirty: false, warnText: "", stepShown: 0, stepDrawn: "", lastCounter: 0, confusion: null,
  metricsShown: null, starting: null, viewers: 0, localFocus: null,
});
// the teacher's page presents its selection and layer reveal; a viewer's page follows them (static/js/classroom.js)
const presenter = VIEWER ? null : new Presenter(conn);
const follower = ctl.follower;
// The field that edits the selected weight (static/js/weight-edit.js): its module loads with the first selection,
// then shows whatever is selected by the time it has.
let weightEditor = null, weightEditorLoading = null;
const editor = {
  select(sel, current) {
    if (weightEditor) { weightEditor.select(sel, current); return; }
    if (!sel || weightEditorLoading) return;
    weightEditorLoading = import("./weight-edit.js").then(({ WeightEditor }) => {
      weightEditor = new WeightEditor($("weight-edit"), {
        put: (t, value) => api("PUT", `/api/sessions/${state.session.id}/weights`, { layer: t.layer, kind: t.kind, row: t.row, col: t.col, value }),
        applied: (session) => applySession(session, null, { syncPanel: false }),
        status: () => ({ viewer: VIEWER, runState: state.latest?.state }),
      });
      const now = scrubber.scrubbed ? null : network.selection;
      weightEditor.select(now, valueOf(now));
    }, () => { weightEditorLoading = null; });
  },
  refresh(current) { weightEditor?.refresh(current); },
};
/** The current value of the weight or bias a selection points at (the diagram's latest frame). */
function valueOf(sel) {
  const layer = sel && sel.l > 0 ? state.latest?.layers?.[sel.l - 1] : null;
  if (!layer) return null;
  const edge = sel.kind === "edge";
  const v = edge ? layer.W?.[sel.j]?.[sel.k] : layer.b?.[sel.k];
  // a step's update frame carries the weights it used and the change it applied
  const d = edge ? layer.dW_applied?.[sel.j]?.[sel.k] : layer.db_applied?.[sel.k];
  return v == null ? null : state.latest.phase === "update" && d != null ? v + d : v;
}
const scrubber = new Scrubber($("scrub"), {
  fetchFrame: (n) => api("GET", `/api/sessions/${encodeURIComponent(state.session.id || WATCH_ID)}/steps/${n}?detail=full`),
  view: showPastStep,
  live: showLive,
  status: (text, kind) => { $("scrub-status").textContent = text; $("scrub-status").dataset.kind = kind || ""; },
});
$("btn-live").addEventListener("click", () => scrubber.goLive());

/** Past step n's frame, its four phases played once: the diagram, the inspector and the counter show it. */
function showPastStep(frame, n) {
  pastTimeline.replay(frame, performance.now(), PAST_STEP_MS);
  editor.select(null); // an edit changes the live run: not offered on a past step
  network.dirty = true;
  state.lastInspect = 0;
  $("scrub-past").hidden = false;
  $("scrub-viewing").textContent = `Viewing step ${n}`;
  $("scrubber").classList.add("past");
  document.body.classList.add("scrubbed");
  $("scrub-out").textContent = `step ${n}`;
  charts.setMarker(n);
  branchForm?.close();
}

function showLive() {
  pastTimeline.clear();
  network.dirty = true;
  state.lastInspect = 0;
  state.stepDrawn = "";
  $("scrub-past").hidden = true;
  $("scrubber").classList.remove("past");
  document.body.classList.remove("scrubbed");
  $("scrub-out").textContent = "live";
  charts.setMarker(null);
  branchForm?.close();
  if (network.selection) editor.select(network.selection, valueOf(network.selection));
}
// "Try from here": the form's module (static/js/branch.js) loads when the button is first pressed
let branchForm = null, settingsName = null;
if (!VIEWER) {
  $("btn-try").addEventListener("click", async () => {
    if (branchForm) return; // made: its own listener opens and closes it
    const branch = await import("./branch.js");
    if (branchForm) return;
    settingsName = branch.settingsName;
    branchForm = new branch.BranchForm($("branch-form"), $("btn-try"), { start: startBranch });
    branchForm.ask = () => {
      const f = pastTimeline.frame;
      if (!scrubber.step || !f || !state.session) return null;
      // the settings that step ran with: the frame's own learning rate and batch size, the run's other settings
      return { step: scrubber.step, config: { ...state.session.config, learning_rate: f.learning_rate ?? state.session.config.learning_rate, batch_size: f.batch_size ?? state.session.config.batch_size } };
    };
    branchForm.opened();
  });
}

/**
 * A new run from past step n with `changes`: the page follows it (address, tab memory, WebSocket) and draws its
 * loss over the run it came from, whose history up to now is fetched first. The run it came from is kept.
 */
async function startBranch(n, changes) {
  const parent = state.session;
  const before = branchForm.ask()?.config || parent.config;
  const history = await api("GET", `/api/sessions/${encodeURIComponent(parent.id)}/history?every=1`);
  const session = await api("POST", `/api/sessions/${encodeURIComponent(parent.id)}/branch`, { step: n, changes });
  const mine = await api("GET", `/api/sessions/${encodeURIComponent(session.id)}/history?every=1`).catch(() => ({ entries: [] }));
  const cols = [[], [], []];
  for (const e of history.entries || []) { cols[0].push(e.step); cols[1].push(e.train_loss); cols[2].push(e.test_loss); }
  const same = settingsName(before) === settingsName(session.config);
  state.compare = {
    id: session.id, step: n, cols, entries: mine.entries || [],
    settings: { current: settingsName(session.config), previous: settingsName(before) },
    names: { current: `from ${n}${same ? "" : ` (${settingsName(session.config)})`}`, previous: `parent${same ? "" : ` (${settingsName(before)})`}` },
  };
  setPlaying(false);
  scrubber.goLive();
  applySession(session, null, { syncPanel: true });
  connect(session);
  state.firstHello = true;
  showToast(`A new run from step ${n}: its loss is drawn over the run it came from.`);
}

/** After a new run or a rebuild: the loss of the run a branch came from stays drawn while the branch is shown. */
function showComparison(session) {
  const c = state.compare;
  if (!c || c.id !== session.id || (session.step || 0) < c.step) {
    state.compare = null;
    charts.setPrevious(null);
    $("compare-note").hidden = true;
    return;
  }
  charts.setPrevious(c.cols, c.names);
  for (const e of c.entries) if (e.step <= (session.step || 0)) charts.addMetrics(e);
  $("compare-note").hidden = false;
  $("compare-note").textContent = `In colour: this run, branched at step ${c.step} (${c.settings.current}); in grey: the run it came from (${c.settings.previous}).`;
}
const digits = new DigitsView($("digit-input"), $("digit-bars"), $("digit-target"));
const panel = new ConfigPanel(onConfigChange);
const steps = ctl.steps;
network.onLayout = (cols) => {
  panel.renderLayerControls(cols);
  if (VIEWER) for (const el of $("layer-controls").querySelectorAll("button, select")) { el.disabled = true; el.tabIndex = -1; }
};

ctl.exposeTestHooks({
  get viewers() { return state.viewers; },
  get shownFrame() { return shownTimeline().frame; },
  get scrubbedStep() { return scrubber.step; },
  get dataHash() { return state.dataHash; },
  /** Where data point (x1, x2) is drawn on the data plane, in CSS pixels from its top left corner. */
  planePixel: (x, y) => { const p = boundary.plane(); return [p.sx(x), p.sy(y)]; },
  get config() { return panel.config; },
  get phase() { return $("phase-label").dataset.phase; },
  get metricsShown() { return state.metricsShown; },
});

// ---------- sessions ----------

async function startSession(request, { keepOutputAuto = true } = {}) {
  const token = {};
  state.starting = token;
  let session;
  try {
    session = await conn.createSession(request);
  } catch (err) {
    showBanner(`That setup was refused: ${err.message}. Starting from the defaults instead.`, false);
    if (request.preset || JSON.stringify(request) === JSON.stringify(DEFAULTS)) throw err;
    const fallback = { ...DEFAULTS };
    delete fallback.output_activation; delete fallback.loss;
    session = await conn.createSession(fallback);
  }
  if (state.starting !== token) { conn.deleteSession(session.id); return; }
  const old = state.session;
  state.outputAuto = keepOutputAuto && !request.output_activation && !request.preset;
  state.starting = null;
  // the panel already shows what was asked for (and may have changed since): it follows the server only for
  // a preset or a refused setup
  applySession(session, null, { syncPanel: !!request.preset || session.config.dataset !== panel.config.dataset });
  if (old && old.id !== session.id && old.id !== state.lost) conn.deleteSession(old.id);
  connect(session);
  // hyperparameters changed in the panel while the session was being created go to it now
  const now = panel.request();
  const late = {};
  for (const k of LIVE_FIELDS) if (k in now && JSON.stringify(now[k]) !== JSON.stringify(session.config[k])) late[k] = now[k];
  if (Object.keys(late).length) conn.setConfig(late, false);
  state.firstHello = true;
  // the points and the first heatmap come with the WebSocket's hello and the subscription
}

/** Live from now on: this page's address, its tab's memory of the run, the WebSocket with this page's speed. */
function connect(session) {
  updateUrl();
  keepRun(session.id);
  conn.open(session.id);
  conn.setSpeed(state.speed); // the run's speed is this page's: a class watching it animates at the same pace
  subscribe();
}

// A reload of the tab (sessionStorage: per tab, gone with it) carries on with its run instead of starting another,
// so a class watching it is not left behind; a link opened elsewhere starts its own run from the address.
const KEPT = "backprop-live:run";
function keepRun(id) {
  try { sessionStorage.setItem(KEPT, id); } catch { /* storage denied (a sandboxed frame): reloads start anew */ }
}

/** The run this tab had before a reload, if it still exists and is the setup the address asks for. */
async function keptRun(request) {
  let id = null;
  try { id = sessionStorage.getItem(KEPT); } catch { return null; }
  if (!id || request.preset) return null;
  const session = await api("GET", `/api/sessions/${encodeURIComponent(id)}`).catch(() => null);
  if (!session || session.role !== "controller") return null;
  const same = Object.keys(request).every((k) => JSON.stringify(request[k]) === JSON.stringify(session.config[k]));
  return same ? session : null;
}

/**
 * Shows a session from its SessionState: a new run, or the same run after a reset or a structural change. The same run
 * with only weights edited by hand keeps the charts, the selection and the data view: only the diagram's weights change.
 */
function applySession(session, points, { syncPanel = true } = {}) {
  if (onlyWeightsChanged(state.session, session)) {
    showEditedWeights(session);
    setPoints(points);
    return;
  }
  if (session.config) session = { ...session, config: withOwnData(session.config) };
  const cfg = { ...session.config };
  if (state.outputAuto) { cfg.output_activation = null; cfg.loss = null; }
  if (cfg.dataset === "custom") panel.custom = ownDataInfo(session.task, session.input_dim, session.n_classes);
  if (syncPanel) panel.set(cfg);
  boundary.ranges = { x: session.x_range, y: session.y_range };
  pointEditor?.setRun(session);
  if (!VIEWER && session.view_id) $("share-button").dataset.watch = session.view_id;
  ctl.select(null);
  editor.select(null);
  ctl.applySession(session);
  showComparison(session);
  // the run's past: from its start (a new run, a rebuild, a reset: step 0; a branch: its step). A run joined mid-way
  // (a reload, a class watching) most often started at 0 too; if not, the server says from where
  scrubber.restart(state.compare ? state.compare.step : 0);
  $("focus").value = (session.config.focus_index || 0) + 1;
  state.confusion = null;
  $("confusion-wrap").hidden = true;
  state.stepShown = session.step || 0;
  $("train-loss").textContent = "–";
  $("test-loss").textContent = "–";
  state.metricsShown = null;

  const isDigits = session.input_dim > 2;
  $("digits-view").hidden = !isDigits;
  $("boundary-wrap").hidden = isDigits;
  $("boundary-toggles").hidden = isDigits;
  $("boundary-wrap").classList.toggle("curve", session.input_dim === 1);
  $("opt-discretize").parentElement.hidden = session.input_dim !== 2;
  setPoints(points);
}

/** The WebSocket's messages leave custom_data out (it may be large): the page has the data the run was built on. */
function withOwnData(config) {
  if (config.dataset !== "custom") return config;
  if (config.custom_data) { state.ownData = config.custom_data; return config; }
  return { ...config, custom_data: state.ownData || null };
}

function onlyWeightsChanged(prev, session) {
  return !!prev && prev.id === (session.id || prev.id) && !session.diverged && !state.diverged &&
    JSON.stringify(prev.sizes) === JSON.stringify(session.sizes) && JSON.stringify(prev.config) === JSON.stringify(session.config) &&
    (session.step || 0) === (state.latest?.step || 0) && ["ready", "updated"].includes(session.state);
}

/** The weights as they are now (after an edit): the diagram and the inspector show them until the next step. */
function showEditedWeights(session) {
  state.session = { ...state.session, ...session, id: state.session.id };
  timeline.show(initialFrame(session));
  state.latest = timeline.frame;
  network.dirty = true;
  state.lastInspect = 0;
  if (network.selection) editor.refresh(valueOf(network.selection));
  presenter?.forget(); // the server forgot the class's presentation with the edit: the selection is sent again
}

const setPoints = (d) => ctl.setPoints(d);
const subscribe = () => ctl.subscribe();
const setPlaying = (playing, send) => ctl.setPlaying(playing, send);
const setSpeed = (sps) => ctl.setSpeed(sps);
const showSpeed = (sps) => ctl.showSpeed(sps);
const showEnded = () => ctl.showEnded();

/** The page's subscription: many hidden neurons carry a heatmap each, so fewer and coarser while live. */
function subscription(live, perSecond) {
  const inputs = state.info ? state.info.inputs : state.sizes[0]; // raw inputs of the data set
  const big = state.sizes.slice(1, -1).reduce((t, n) => t + n, 0) > 32;
  return {
    detail: live ? "summary" : "full",
    boundary_every: inputs > 2 ? 0 : live ? perSecond(big ? 2 : 4) : 1,
    boundary_resolution: live ? (big ? 24 : 32) : 40,
    neurons: inputs <= 2,
    metrics_every: live ? perSecond(15) : 1,
  };
}

function updateUrl() {
  if (VIEWER) { // the address is the live link: only the theme is added to it
    const q = new URLSearchParams(location.search);
    if (chosenTheme) q.set("theme", chosenTheme); else q.delete("theme");
    const search = q.toString() ? `?${q}` : "";
    if (search !== location.search) history.replaceState(null, "", `${location.pathname}${search}`);
    return;
  }
  const q = toQuery(panel.request(), { speed: state.speed, theme: chosenTheme, data: state.dataHash });
  if (q !== location.search) history.replaceState(null, "", q);
}

/**
 * A structural change (data, layers, init, seed...) rebuilds the run in place, so its ids stay and a class watching
 * it follows; the rebuilt run arrives as the WebSocket's hello. A refused change leaves the run as it was.
 * Changes made while one is on its way wait, and only the latest is sent: requests on separate connections could
 * otherwise arrive out of order and leave an older setup in place.
 */
const rebuilds = { running: null, next: null, sent: [], error: null }; // sent: the last setups asked for
/** throws: the returned promise rejects with the server's refusal (for a form that shows it) */
function rebuild(request, { throws = false } = {}) {
  rebuilds.next = request;
  if (!rebuilds.running) rebuilds.running = rebuildLatest().finally(() => { rebuilds.running = null; });
  return throws ? rebuilds.running.then(() => { if (rebuilds.error) throw rebuilds.error; }) : rebuilds.running;
}

async function rebuildLatest() {
  const wasPlaying = state.playing;
  setPlaying(false);
  let ok = true;
  while (rebuilds.next) {
    const request = rebuilds.next;
    rebuilds.next = null;
    const body = { ...request, output_activation: request.output_activation ?? null, loss: request.loss ?? null,
      custom_data: request.custom_data ?? null };
    rebuilds.sent = [...rebuilds.sent.slice(-7), body];
    try {
      await conn.patch(body, true);
      ok = true;
      rebuilds.error = null;
    } catch (err) {
      ok = false;
      rebuilds.error = err;
      showToast(`That change was refused: ${err.message}`);
      const cfg = { ...state.session.config };
      if (state.outputAuto) { cfg.output_activation = null; cfg.loss = null; }
      panel.set(cfg);
    }
    updateUrl();
  }
  if (ok && wasPlaying) setPlaying(true);
}

function onConfigChange(partial, structural) {
  if (structural) {
    rebuild(panel.request());
    return;
  }
  conn.setConfig(partial, false);
  state.session.config = { ...state.session.config, ...partial };
  inspector.setConfig(state.session.config, state.sizes, state.inputLabels);
  updateUrl();
}

// ---------- messages ----------

conn.on("status", (s) => { $("conn-status").textContent = s.text; $("conn-status").classList.toggle("ok", s.connected); });
conn.on("session_lost", () => {
  if (VIEWER) { showEnded(); return; }
  state.lost = state.session?.id; // gone: nothing to delete when the new run starts
  startSession(panel.request()).catch(() => {});
});
conn.on("refused", () => showBanner("This run already has as many watchers as the server allows. Reload the page in a while to try again.", false));
conn.on("audience", (m) => showAudience(m.viewers));
conn.on("hello", (msg) => {
  state.role = msg.role || "controller";
  if (VIEWER) {
    ctl.watched(msg);
    ctl.start();
    state.boundaryDirty = true;
    return;
  }
  // joining a run mid-way: its current step's frame follows at once, shown as it is rather than animated
  state.catchUp = !!msg.frame_follows;
  if (typeof msg.state?.viewers === "number") showAudience(msg.state.viewers);
  if (msg.state && msg.state.W) {
    const mine = JSON.stringify(panel.request());
    const theirs = { ...msg.state.config };
    if (state.outputAuto) { delete theirs.output_activation; delete theirs.loss; }
    const differs = Object.keys(panel.request()).some((k) => JSON.stringify(theirs[k]) !== JSON.stringify(JSON.parse(mine)[k]));
    // the first hello repeats what this page asked for, and so does the hello of a rebuild it asked for (the panel
    // may have moved on since: it keeps what the user chose); another hello follows a change made elsewhere
    const ours = rebuilds.running || rebuilds.sent.some((req) => Object.keys(req).every((k) => req[k] == null || JSON.stringify(req[k]) === JSON.stringify(msg.state.config[k])));
    applySession(msg.state, msg.data, { syncPanel: !state.firstHello && !state.starting && differs && !ours });
    state.firstHello = false;
    state.boundaryDirty = true;
  } else if (msg.data && msg.data.train) setPoints(msg.data);
});
conn.on("error", (msg) => {
  if (msg.code === "diverged") { ctl.showDiverged(msg.message); return; }
  if (VIEWER && msg.code === "session_deleted") { showEnded(); return; }
  showToast(msg.message || msg.code || "error");
});

/** A change of the run's settings made elsewhere: a viewer's panel and inspector show it. */
function applyState(s) {
  if (!s.config || !state.session) return;
  state.session.config = withOwnData({ ...state.session.config, ...s.config });
  if (VIEWER) { panel.set(state.session.config); inspector.setConfig(state.session.config, state.sizes, state.inputLabels); }
}

/** After a new frame: the step counter's step, the gradient warnings, the focus sample's number. */
function frameShown(frame) {
  if (frame.phase === "update") state.stepShown = frame.step;
  const warned = frame.layers.filter((l) => l.warning).map((l) => `layer ${l.index}: ${l.warning} gradient (‖grad W‖ = ${fmt(l.grad_W_norm, 2)})`);
  const warnText = warned.length ? `⚠ ${warned.join("; ")}` : "";
  if (warnText !== state.warnText) { state.warnText = warnText; $("grad-warning-text").textContent = warnText; }
  if (state.sizes[0] === 64) state.imagesDirty = true;
  if (document.activeElement !== $("focus")) $("focus").value = (state.localFocus ?? frame.focus_index ?? 0) + 1;
}

/**
 * The data view highlights the points of a step's batch (and its focus sample): while slow motion plays, from the
 * moment the diagram starts animating the step's forward pass; otherwise as its frame arrives. The live view
 * highlights none.
 */
function showBatch(frame) {
  if (frame.batch_indices && !timeline.live) {
    ctl.highlightBatch(frame, state.localFocus);
    state.boundaryDirty = true;
  } else if (timeline.live && boundary.highlight) { ctl.highlightBatch(null); state.boundaryDirty = true; }
}

const controls = {
  togglePlay: () => { if (!state.diverged) setPlaying(!state.playing); },
  stepFull: () => { scrubber.goLive(); ctl.step(); },
  stepPhase: () => { scrubber.goLive(); ctl.stepPhase(); },
  stepLayer: () => { scrubber.goLive(); ctl.stepLayer(); },
  faster: () => setSpeed(state.speed * 2),
  slower: () => setSpeed(state.speed / 2),
  reset: () => resetWeights(),
  regenerate: () => panel.change({ data_seed: Math.floor(Math.random() * 2 ** 31) }),
};
// what a watching page may do: only what is local to it
const actions = {
  ...(VIEWER ? {} : controls),
  toggleTest: () => { $("opt-show-test").checked = !$("opt-show-test").checked; $("opt-show-test").dispatchEvent(new Event("change")); },
  toggleLog: () => { $("opt-log").checked = !$("opt-log").checked; charts.setLog($("opt-log").checked); },
  help: () => { const d = $("help"); if (d.open) d.close(); else d.showModal(); },
  escape: () => {
    if ($("help").open) { $("help").close(); return; }
    if (network.selection) follower?.explore();
    ctl.select(null);
    editor.select(null);
  },
};

async function resetWeights(extra = {}) {
  setPlaying(false);
  try {
    if (Object.keys(extra).length) await conn.patch(extra, false);
    const session = await api("POST", `/api/sessions/${state.session.id}/reset`, {});
    applySession(session, state.points);
  } catch (err) { showToast(err.message); }
}

$("btn-play").addEventListener("click", controls.togglePlay);
$("btn-step").addEventListener("click", controls.stepFull);
$("btn-step-phase").addEventListener("click", controls.stepPhase);
$("btn-step-layer").addEventListener("click", controls.stepLayer);
$("btn-reset").addEventListener("click", controls.reset);
$("btn-regen").addEventListener("click", controls.regenerate);
$("btn-help").addEventListener("click", actions.help);
$("speed").addEventListener("input", (e) => setSpeed(sliderToSpeed(Number(e.target.value))));
$("opt-show-test").addEventListener("change", (e) => { boundary.showTest = e.target.checked; state.boundaryDirty = true; });
$("opt-discretize").addEventListener("change", (e) => { boundary.discretize = e.target.checked; state.boundaryDirty = true; state.imagesDirty = true; });
$("opt-log").addEventListener("change", (e) => charts.setLog(e.target.checked));
$("focus").addEventListener("change", (e) => {
  const batch = state.session?.config?.batch_size || 1;
  const i = Math.max(1, Math.min(batch, Math.floor(Number(e.target.value) || 1)));
  e.target.value = i;
  if (VIEWER) { // the student's own focus sample, from the numbers every full frame carries
    follower.explore();
    state.localFocus = i - 1;
    if (state.latest) showBatch(state.latest);
    showToast(`You follow sample ${i} of each batch; the teacher's page is unchanged.`);
    return;
  }
  onConfigChange({ focus_index: i - 1 }, false);
  showToast(`The next steps follow sample ${i} of each batch.`);
});
$("banner-reset").addEventListener("click", () => resetWeights());
$("banner-lower-lr").addEventListener("click", () => {
  const lr = Math.max(1e-5, +(panel.config.learning_rate / 10).toPrecision(3));
  panel.config.learning_rate = lr;
  panel.render();
  resetWeights({ learning_rate: lr }).then(updateUrl);
});
$("preset").addEventListener("change", async (e) => {
  const name = e.target.value;
  const config = (await presetConfigs())?.get(name);
  if (!config || $("preset").value !== name) return;
  state.outputAuto = false;
  panel.set(config);
  rebuild(panel.request());
});
$("btn-follow")?.addEventListener("click", () => follower.follow());
$("btn-explore")?.addEventListener("click", () => follower.explore());
$("audience")?.addEventListener("click", () => $("share-button").click());
// Share → "End this run for the class": the run is deleted, its watchers told; this page goes on with a new run
document.addEventListener("backprop-live:end-run", () => {
  if (VIEWER || !state.session) return;
  setPlaying(false, false);
  conn.deleteSession(state.session.id); // the server closes this page's socket too (4404): a new run starts
});
bindKeys(actions);

/** Views drawn on canvases take the theme's colours at their next draw; the charts are built again with them. */
function showTheme() {
  const dark = isDark();
  applyTheme(dark);
  $("btn-theme").setAttribute("aria-pressed", String(dark));
  $("btn-theme").title = dark ? "Light page" : "Dark page";
  charts.restyle();
  network.dirty = true;
  state.boundaryDirty = true;
  state.imagesDirty = true;
}
systemDark.addEventListener("change", () => { if (!chosenTheme) showTheme(); });
$("btn-theme").addEventListener("click", () => {
  chosenTheme = isDark() ? "light" : "dark";
  showTheme();
  updateUrl();
});
showTheme();
$("skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  $("network").focus({ preventScroll: true });
  $("network").scrollIntoView({ block: "nearest" });
});

// ---------- banners ----------

function showBanner(text, diverged) {
  $("banner-text").textContent = text;
  $("banner").hidden = false;
  $("banner").classList.toggle("diverged", diverged);
  $("banner-reset").hidden = !diverged;
  $("banner-lower-lr").hidden = !diverged;
}
function hideBanner() { $("banner").hidden = true; }
function divergedShown(what) {
  const text = `The run diverged${what ? ` (${what})` : ""}: the numbers grew without bound, usually because the learning rate is too large.`;
  if (VIEWER) showBanner(`${text} The teacher can reset it.`, false);
  else showBanner(`${text} The weights before the bad step are kept.`, true);
  $("banner").classList.add("diverged");
}

// ---------- the classroom ----------

/** The teacher's header: how many pages watch this run live. */
function showAudience(n) {
  state.viewers = n;
  $("audience-count").textContent = n;
  $("audience").classList.toggle("has-viewers", n > 0);
  $("audience").setAttribute("aria-label", `${audienceText(n)} live: open the live link for your class`);
}

/** A viewer following the teacher: the teacher's selection in the inspector, and their layer-by-layer reveal. */
function followedTeacher() {
  state.localFocus = null;
  editor.select(network.selection, valueOf(network.selection));
  if (state.latest) showBatch(state.latest);
}

function showFollowing(following) {
  $("btn-follow").hidden = following;
  $("btn-explore").hidden = !following;
  $("follow-state").textContent = following ? "Following the teacher" : "Exploring on your own";
  $("watch-badge").parentElement.classList.toggle("exploring", !following);
}

/** The run is gone (deleted by the teacher, expired, or the server restarted without it): say so, stop trying. */
function endedShown() {
  $("ended").hidden = false;
  $("ended").scrollIntoView({ block: "nearest" });
  document.body.classList.add("ended-run");
  $("watch-badge").lastChild.textContent = " Run ended";
  for (const id of ["btn-follow", "btn-explore", "follow-state"]) $(id).hidden = true;
  $("conn-status").textContent = "the run has ended";
  $("conn-status").classList.remove("ok");
}

let toastTimer = null;
function showToast(text) {
  let t = document.querySelector(".toast");
  if (!t) { t = document.createElement("div"); t.className = "toast"; t.setAttribute("role", "status"); document.body.appendChild(t); }
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 4000);
}

// ---------- tooltip ----------

function showTooltip(hit, e, { keyboard = false } = {}) {
  const tip = $("net-tooltip");
  const f = shownTimeline().frame;
  if (!hit || !f || !f.layers.length) { tip.hidden = true; return; }
  tip.innerHTML = `${hitHtml(hit, f, state.sizes, state.inputLabels)}<br><small>${keyboard ? "Enter" : "click"} for the formulas</small>`;
  tip.hidden = false;
  // beside the pointer; for the keyboard cursor where the diagram says it hides nothing of it (e.place)
  const r = $("network-wrap").getBoundingClientRect();
  const x = e.clientX - r.left, y = e.clientY - r.top, w = tip.offsetWidth;
  const left = e.place === "below" ? x - w / 2 : e.place === "below-left" ? x - w - 10 : x + 14;
  tip.style.left = `${Math.max(0, Math.min(left, r.width - w))}px`;
  tip.style.top = `${y + (e.place === "below" ? 0 : e.place ? 10 : 14)}px`;
}

// ---------- the step counter and the legend ----------

/**
 * Live view: the latest step trained. Slow motion and stepping: the step the diagram shows, "in progress" from
 * its forward pass until its update has been applied, so that it agrees with the phase text ("Step 3: ...").
 */
function updateCounter(view, now) {
  let step = state.stepShown;
  const running = stepInProgress(view);
  if (view.frame && view.phase !== "live") step = view.frame.step || 0;
  const key = `${step}|${running}`;
  if (key === state.stepDrawn || (view.phase === "live" && now - state.lastCounter <= 100)) return;
  $("step-count").textContent = step;
  $("step-state").hidden = !running;
  state.stepDrawn = key;
  state.lastCounter = now;
}

/**
 * The header's train and test loss (and the confusion matrix) are measured after a step's update: they follow
 * the counter, the metrics of the last step whose update the diagram has applied. In slow motion a step's
 * metrics arrive with its frame and wait here until its update phase ends; in the live view the latest show.
 */
function updateMetrics(settled) {
  const m = steps.metrics.at(settled);
  if (!m || m === state.metricsShown) return;
  state.metricsShown = m;
  if (m.train_loss != null) $("train-loss").textContent = fmt(m.train_loss, 4);
  if (m.test_loss != null) $("test-loss").textContent = fmt(m.test_loss, 4);
  if (m.confusion) state.confusion = m.confusion;
}

/** The legend says what the neurons show: the focus sample's activation or the batch mean, and the picture inside. */
let legendKey = "";
function updateLegend(view) {
  const mean = view.phase === "live" || (!!view.frame && !isFull(view.frame) && view.frame.layers[0]?.a_mean != null);
  const inputs = state.info ? state.info.inputs : state.sizes[0];
  const plots = network.plotted.length > 0; // 1-D: none where the neurons are too small for a picture
  const key = `${mean}|${inputs}|${state.sizes[0]}|${plots}`;
  if (key === legendKey) return;
  legendKey = key;
  $("legend-node").textContent = mean ? "neuron: activation a, mean over the batch" : "neuron: activation a of the focus sample";
  const inside = inputs === 1 ? (plots ? `inside: the neuron's a along x${mean ? "" : " (ring: the focus sample)"}` : "")
    : inputs === 2 ? "inside: the neuron's a over the input plane"
    : state.sizes[0] === 64 ? "inside layer 1: each neuron's 64 weights as an 8×8 image" : "";
  $("legend-inside-text").textContent = inside;
  $("legend-inside").hidden = !inside;
  $("legend-inside").dataset.kind = inputs === 1 ? "curve" : inputs === 2 ? "grid" : "weights";
}

// ---------- confusion matrix ----------

let confusionDrawn = null;
function drawConfusion() {
  const m = state.confusion;
  if (!m || m === confusionDrawn) return;
  confusionDrawn = m;
  $("confusion-wrap").hidden = false;
  $("confusion").innerHTML = confusionTable(m);
}

// ---------- the animation loop ----------

let focusShown = null; // {frame, focus, shown}: the frame as the student's own focus sample sees it
function ownFocus(view) {
  if (state.localFocus == null || !view.frame) return view;
  if (!focusShown || focusShown.frame !== view.frame || focusShown.focus !== state.localFocus) {
    focusShown = { frame: view.frame, focus: state.localFocus, shown: withFocus(view.frame, state.localFocus) };
  }
  return { ...view, frame: focusShown.shown };
}

/** Every animation frame, after the diagram (controller.loop): the header, the phase bar, the data view. */
function draw(view, settled, now) {
  updateCounter(view, now);
  scrubber.setLast(state.stepShown);
  updateMetrics(settled);
  showPhase(view, state.speed);
  updateLegend(view);
  if (state.boundaryDirty) { state.boundaryDirty = false; boundary.setOptions({}); }
  if (state.sizes[0] === 64 && view.frame && isFull(view.frame)) digits.draw(view.frame);
  drawConfusion();
  presenter?.show({ selection: network.selection, reveal: timeline.reveal });
}

// ---------- start ----------

/** A watching page: the run arrives with the WebSocket's hello (an unknown id never serves this page). */
function watch() {
  showFollowing(true);
  conn.open(WATCH_ID);
  subscribe();
}

// The presets' setups load when one is first chosen (the page lists their names, the server wrote them in).
let presets = null;
function presetConfigs() {
  presets ||= api("GET", "/api/presets")
    .then((list) => new Map(list.filter((p) => p.config).map((p) => [p.name, p.config])))
    .catch((err) => { presets = null; showBanner(`The presets could not be loaded: ${err.message}.`, false); return null; });
  return presets;
}

async function main() {
  // the server's rules, limits and data sets: the panel's choices, the speed range, the CSV form's bounds
  const [datasets, limits] = await Promise.all([
    api("GET", "/api/datasets").catch(() => null),
    api("GET", "/api/limits").catch(() => null),
    loadConfigRules(api),
  ]);
  setSpeedRange(limits?.steps_per_second);
  panel.config = { ...DEFAULTS };
  panel.setDatasets(datasets);
  if (VIEWER) { watch(); return; }
  const { config, ui } = parseUrl(location.search);
  if (limits) {
    for (const k of ["max_custom_rows", "max_inputs", "max_classes"]) if (typeof limits[k] === "number") CUSTOM_LIMITS[k] = limits[k];
    ownData?.setLimits(CUSTOM_LIMITS); // else the form reads them when it is made
  }
  state.speed = ui.speed && Number.isFinite(ui.speed) ? ui.speed : 1;
  setSpeed(state.speed);
  const request = ui.preset ? { preset: ui.preset, ...config } : { ...DEFAULTS, ...config };
  for (const k of ["output_activation", "loss"]) if (request[k] == null) delete request[k];
  if (request.dataset === "custom") {
    try {
      request.custom_data = state.ownData = await sharedData(ui.data);
      state.dataHash = ui.data;
      panel.custom = customInfo(request.custom_data);
    } catch (err) {
      showBanner(err.message, false);
      request.dataset = DEFAULTS.dataset;
    }
  }
  const info = panel.info(request.dataset);
  if (info && info.inputs !== 2) delete request.features;
  if (!ui.preset) panel.set(request);
  const kept = await keptRun(request);
  if (kept) {
    state.outputAuto = !config.output_activation;
    applySession(kept, null, { syncPanel: false });
    connect(kept);
    state.firstHello = true;
  } else await startSession(request, { keepOutputAuto: !config.output_activation });
  ctl.start();
}

main().catch((err) => showBanner(`The page could not start a run: ${err.message}`, false));
