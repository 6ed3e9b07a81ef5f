// The one controller of the main page, the viewer page (/watch) and the embedded widget. It turns the connection's
// messages into the timeline's frames and the views' data, and the controls into commands. The page, the viewer
// and the widget are modes of it: each mode module (app.js, embed/app.js) builds the views it shows and passes the
// hooks below for what only it does (forms, panels, lessons, the host page's channel).
//
// A mode's hooks, each optional unless said:
//   name               "page" | "viewer" | "widget"
//   watching           a view id: the run is watched read only, following the teacher (viewer page, ?watch=)
//   pausedStepMs       [min, max]: how long a step animates when stepped or paused (required)
//   subscription(live, perSecond)   what to subscribe to (required)
//   speedLabel(sps)    the text beside the speed slider (palette.speedText by default)
//   frameShown(frame)  after a new frame went to the timeline        metricsArrived(m)   after a step's metrics
//   stateArrived(s)    after a `state` message                          boundaryShown(b)    a boundary reaches the views
//   batchShown(frame)  the batch of `frame` is to be highlighted       diverged(what) / undiverged()
//   ended()            the watched run is gone                          followed() / followingShown(following)
//   addressChanged()   the speed changed (the page's address, the widget's "open" link)
//   images()           extra options for the neurons' pictures          draw(view, settled, now)  every animation frame

import { Connection } from "./connection.js";
import { Timeline, SLOW_MOTION_MAX } from "./timeline.js";
import { StepViews } from "./step-views.js";
import { NeuronImages, inputImages } from "./neuron-images.js";
import { firstLayerImages } from "./digits.js";
import { inputLabelsOf, outputLabelsOf } from "./config.js";
import { speedText } from "./palette.js";
import { isFull } from "./frame.js";
import { Follower, selectionFits } from "./classroom.js";

const $ = (id) => document.getElementById(id);

// steps a second, the server's range (GET /api/limits gives it: setSpeedRange)
const SPEED = { min: 0.2, max: 1000 };
export function setSpeedRange(range) {
  if (Array.isArray(range) && range[0] > 0 && range[1] > range[0]) [SPEED.min, SPEED.max] = range;
}
// the slider is logarithmic: 0..1000 over min..max
export const sliderToSpeed = (v) => SPEED.min * (SPEED.max / SPEED.min) ** (v / 1000);
const speedToSlider = (s) => Math.round((1000 * Math.log(s / SPEED.min)) / Math.log(SPEED.max / SPEED.min));

/** A frame-shaped record of a run's weights before any step, so the diagram can show them. */
export function initialFrame(session) {
  const acts = session.activations || [...session.config.hidden_layers.map((h) => h.activation), session.config.output_activation];
  return {
    type: "frame", step: session.step || 0, phase: null, state: session.state, detail: "summary", loss: null,
    layers: session.W.map((w, i) => ({ index: i + 1, activation: acts[i], W: w, b: session.b[i], a_mean: null, delta_mean: null })),
  };
}

export class Controller {
  /** `views`: {network, boundary, charts, inspector}, each may be null (a widget shows the panels it is asked for). */
  constructor(mode, views) {
    this.mode = mode;
    this.views = views;
    this.conn = new Connection();
    this.timeline = new Timeline();
    this.state = {
      session: null, sizes: [2, 1], info: null, inputLabels: [], playing: false, speed: 1, diverged: false, ended: false,
      latest: null, latestFull: null, previousStep: null, runState: null, metrics: null, seq: 0,
      points: null, boundary: null, inputImages: [], imagesDirty: false, imagesStep: null,
      catchUp: false, wantManual: false, drawMs: 0, draws: 0, lastCharts: 0, lastInspect: 0,
    };
    this.held = null; // while an exercise holds a phase's answer back, frames wait here instead of reaching the views
    this.neuronImages = new NeuronImages();
    this.steps = new StepViews({
      metrics: (m) => views.charts?.addMetrics(m),
      grads: (step, norms) => views.charts?.addGradNorms(step, norms),
      boundary: (b) => {
        this.state.boundary = b;
        this.state.imagesDirty = true;
        mode.boundaryShown?.(b);
      },
      batch: (frame) => mode.batchShown?.(frame),
    });
    this.follower = mode.watching ? new Follower({ apply: (p) => this.followTeacher(p), changed: (f) => mode.followingShown?.(f) }) : null;
    const conn = this.conn;
    conn.on("frame", (frame) => { if (this.held) this.held.push(frame); else this.showFrame(frame); });
    conn.on("boundary", (b) => this.onBoundary(b));
    conn.on("metrics", (m) => this.onMetrics(m));
    conn.on("state", (s) => this.onState(s));
    conn.on("present", (m) => this.follower?.receive(m));
    this.resumeAfterReconnect(conn, mode);
    this.loop = this.loop.bind(this);
  }

  /** A run that played when its connection was lost (a server restart, a network blip) plays on once it is back:
   * the server stops a run that nobody watches, so the page asks again after the hello. Not for a run that is gone
   * (the page then starts another) nor for watchers, who do not control the run. */
  resumeAfterReconnect(conn, mode) {
    if (mode.watching) return;
    let resume = false;
    conn.on("status", (s) => { if (s.lost && this.state.playing) resume = true; });
    conn.on("session_lost", () => { resume = false; });
    conn.on("hello", () => {
      if (!resume) return;
      resume = false;
      // after every other hello listener has shown the run as the server has it (paused)
      queueMicrotask(() => { if (!this.state.diverged && !this.state.ended) this.setPlaying(true); });
    });
  }

  /**
   * Shows a run from its SessionState: a new run, or the same run after a reset or a structural change. The mode
   * adds its own panels' part around it.
   */
  applySession(session) {
    const { state, views } = this;
    const prev = state.session;
    state.session = { ...(prev && prev.id === session.id ? prev : {}), ...session };
    if (!state.session.id && prev) state.session.id = prev.id;
    state.sizes = session.sizes;
    state.info = { task: session.task, classes: session.n_classes, inputs: session.input_dim };
    state.runState = session.state;
    state.inputLabels = inputLabelsOf(session);
    views.network?.setShape(session.sizes, state.inputLabels, outputLabelsOf(session));
    views.inspector?.setConfig(session.config, session.sizes, state.inputLabels);
    views.charts?.reset(session.sizes.length - 1, session.task === "classification");
    this.timeline.show(initialFrame(session));
    state.latest = this.timeline.frame;
    state.latestFull = null;
    state.points = null;
    state.boundary = null;
    state.imagesStep = null;
    if (views.boundary) { views.boundary.boundary = null; views.boundary.highlight = null; views.boundary.focus = null; }
    // the header shows the run's metrics from the next animation frame on; the confusion matrix waits for a step
    this.steps.reset(session.metrics ? { ...session.metrics, confusion: null } : null);
    state.inputImages = inputImages(session.config.features, session.sizes, session.input_dim);
    views.network?.setImages(new Map(state.inputImages));
    state.imagesDirty = true;
    state.diverged = false;
    if (session.diverged) this.showDiverged(session.divergence); else this.mode.undiverged?.();
    if (views.network) views.network.dirty = true;
  }

  /** The run's data points (train and test) on the data plane. */
  setPoints(d) {
    if (!d || !d.train) return;
    const { state } = this;
    state.points = d;
    const boundary = this.views.boundary;
    if (!boundary) return;
    boundary.setData(d, state.info?.task || "classification", state.info?.classes || 2);
    if (state.boundary) boundary.setBoundary(state.boundary);
  }

  /** What the views need at this speed: full frames in slow motion, summaries and fewer pictures in the live view. */
  subscribe() {
    const { state } = this;
    const live = state.playing && state.speed > SLOW_MOTION_MAX;
    this.timeline.setLive(live);
    const perSecond = (n) => Math.max(1, Math.round(state.speed / n));
    this.conn.subscribe(this.mode.subscription(live, perSecond));
  }

  /**
   * Whether the charts and the pictures wait for the animation: while slow motion plays in sight. Paused, stepping
   * (the messages answer a click), in the live view or in a hidden tab (no animation runs) they show at once.
   */
  holding() {
    return this.state.playing && !this.timeline.live && !document.hidden;
  }

  /** Plays or pauses (`send`: this page asks the server; otherwise the server said so). A diverged run does not play. */
  setPlaying(playing, send = true) {
    const { state, conn } = this;
    if (playing && state.diverged) return;
    state.playing = playing;
    const btn = $("btn-play");
    btn.classList.toggle("playing", playing);
    btn.setAttribute("aria-pressed", String(playing));
    btn.setAttribute("aria-label", playing ? "Pause" : "Play");
    if (send) { if (playing) { conn.setSpeed(state.speed); conn.play(); } else conn.pause(); }
    this.subscribe();
  }

  /** The speed on the slider and in the subscription (watching: the run's, from the server). */
  showSpeed(sps) {
    const { state } = this;
    state.speed = Math.max(SPEED.min, Math.min(SPEED.max, sps));
    const range = $("speed");
    if (range) {
      range.value = String(speedToSlider(state.speed));
      range.setAttribute("aria-valuetext", speedText(state.speed));
    }
    const out = $("speed-out");
    if (out) out.textContent = (this.mode.speedLabel || speedText)(state.speed);
    this.subscribe();
  }

  setSpeed(sps) {
    this.showSpeed(sps);
    this.conn.setSpeed(this.state.speed);
    this.mode.addressChanged?.();
  }

  /** A frame from the server: to the timeline (animated, or at once when joining a run or revealing layer by layer). */
  showFrame(frame) {
    const { state, timeline, steps, mode } = this;
    frame.seq = ++state.seq;
    if (isFull(frame)) state.latestFull = frame;
    // the same step and phase again, at another detail (after a subscription changed it): no new animation
    if (timeline.refresh(frame)) { if (state.latest?.step === frame.step) state.latest = frame; return; }
    if (state.latest && state.latest.step !== frame.step) state.previousStep = state.latest;
    state.latest = frame;
    state.runState = frame.state;
    if (state.catchUp) {
      state.catchUp = false;
      timeline.show(frame);
    } else if (state.wantManual) {
      state.wantManual = false;
      timeline.startManual(frame);
    } else {
      const [min, max] = mode.pausedStepMs;
      timeline.push(frame, performance.now(), state.playing ? 1000 / state.speed : Math.min(max, Math.max(min, 1000 / state.speed)));
    }
    steps.addFrame(frame);
    if (!this.holding()) { steps.showUpTo(Infinity); steps.showBatch(frame); }
    if (frame.diverged) this.showDiverged(frame.divergence);
    mode.frameShown?.(frame);
  }

  /** Frames held back (hold()) go to the views again; returns those that were waiting. */
  hold() { this.held = []; }
  release() {
    const waiting = this.held || [];
    this.held = null;
    waiting.forEach((f) => this.showFrame(f));
    if (this.views.network) this.views.network.dirty = true;
    return waiting;
  }

  onBoundary(b) {
    this.steps.addBoundary(b);
    if (!this.holding()) this.steps.showUpTo(Infinity);
  }

  onMetrics(m) {
    this.state.metrics = m;
    this.steps.addMetrics(m); // shown once the animation has applied the step's update
    if (!this.holding()) this.steps.showUpTo(Infinity);
    this.mode.metricsArrived?.(m);
  }

  onState(s) {
    if (s.state) this.state.runState = s.state;
    if (this.mode.watching && typeof s.steps_per_second === "number") this.showSpeed(s.steps_per_second);
    if (typeof s.playing === "boolean" && s.playing !== this.state.playing) this.setPlaying(s.playing, false);
    if (s.diverged) this.showDiverged(s.divergence);
    this.mode.stateArrived?.(s);
  }

  /** A watched run's hello (the first, and after each reset or rebuild): shown anew, at the run's speed. */
  watched(msg) {
    this.state.catchUp = !!msg.frame_follows; // joining mid-run: the current step's frame follows, shown as it is
    this.applySession({ ...msg.state, id: null });
    this.setPoints(msg.data);
    this.showSpeed(msg.state.steps_per_second);
    this.setPlaying(!!msg.state.playing, false);
  }

  showDiverged(what) {
    if (this.state.diverged) return;
    this.state.diverged = true;
    this.setPlaying(false, false);
    this.mode.diverged?.(what);
  }

  /** The watched run is gone (deleted by the teacher, expired, or the server restarted without it): stop trying. */
  showEnded() {
    if (this.state.ended) return;
    this.state.ended = true;
    this.conn.close();
    this.setPlaying(false, false);
    this.mode.ended?.();
  }

  /** One whole step (`count`), asked of the server; the animation of a phase in progress is not waited for. */
  step(count = 1) {
    if (this.state.playing) this.setPlaying(false);
    this.state.wantManual = false;
    this.conn.step(count);
  }

  /** The next phase of the step, from the server. */
  stepPhase() {
    if (this.state.playing) this.setPlaying(false);
    this.state.wantManual = false;
    this.conn.stepPhase();
  }

  /** One more layer of the phase shown; once it is complete, the next phase, revealed layer by layer. */
  stepLayer() {
    if (this.state.playing) this.setPlaying(false);
    if (!this.timeline.revealLayer(performance.now())) { this.state.wantManual = true; this.conn.stepPhase(); }
  }

  /** The batch of `frame` on the data plane, its focus sample (or `sample`) ringed; none for a null frame. */
  highlightBatch(frame, sample = null) {
    const boundary = this.views.boundary;
    if (!boundary) return;
    const rows = frame?.batch_indices || null;
    boundary.highlight = rows;
    boundary.focus = rows ? rows[Math.min(sample ?? frame.focus_index ?? 0, rows.length - 1)] : null;
  }

  /** A neuron or a connection selected in the diagram (or none): the inspector opens on it. */
  select(sel) {
    const { network, inspector } = this.views;
    if (network) { network.selection = sel; network.dirty = true; }
    if (inspector) { if (sel) inspector.open(sel); else inspector.close(); }
    this.state.lastInspect = 0;
  }

  /** Following the teacher: their selection in the inspector, and their layer-by-layer reveal. */
  followTeacher({ selection, reveal }) {
    this.select(selectionFits(selection, this.state.sizes) ? selection : null);
    if (reveal) this.timeline.revealTo(reveal);
    this.mode.followed?.();
  }

  /** The neurons' pictures, built again from the latest boundary (and, for 8×8 images, the first layer's weights). */
  refreshImages() {
    const { state, views } = this;
    state.imagesStep = state.boundary ? state.boundary.step : null;
    const images = this.neuronImages.build(state.boundary, state.sizes,
      { inputs: state.inputImages, discretize: views.boundary?.discretize, outputHeat: views.boundary?.heat });
    if (state.sizes[0] === 64 && this.timeline.frame) for (const [k, v] of firstLayerImages(this.timeline.frame)) images.set(k, v);
    views.network.setImages(images);
  }

  start() {
    if (this.started) return;
    this.started = true;
    requestAnimationFrame(this.loop);
  }

  loop(now) {
    const { state, views, timeline, steps, mode } = this;
    const { network, charts, inspector } = views;
    timeline.tick(now);
    const view = mode.view ? mode.view(now) : timeline.view(now);
    const last = this.lastView;
    const moving = view.frame && (timeline.animating(now) || view.frame !== last?.frame || view.phase !== last?.phase || view.t !== last?.t);
    if (network && (moving || network.dirty)) {
      const t0 = performance.now();
      network.draw(view);
      network.dirty = false;
      state.drawMs = 0.9 * state.drawMs + 0.1 * (performance.now() - t0);
      state.draws++;
    }
    this.lastView = view;
    // the charts, the heatmap and the batch highlighted follow the animation while slow motion plays
    const settled = steps.follow(view, state.latest, this.holding());
    mode.draw?.(view, settled, now);
    if (state.imagesDirty && network) { state.imagesDirty = false; this.refreshImages(); }
    if (charts && (!timeline.live || now - state.lastCharts > 200)) { charts.render(); state.lastCharts = now; }
    if (inspector?.selection && (view.phase !== "live" || now - state.lastInspect > 400)) {
      inspector.render(view.frame);
      state.lastInspect = now;
    }
    steps.forget(settled); // kept: the header's and the charts' to come
    requestAnimationFrame(this.loop);
  }

  /**
   * The test hooks: one object, window.__backpropTest, only on a server started with BACKPROP_TEST_HOOKS (the page
   * then carries data-test-hooks). `extra`: the mode's own getters.
   */
  exposeTestHooks(extra = {}) {
    if (!("testHooks" in document.body.dataset)) return;
    const ctl = this, { state, views, timeline } = this;
    const common = {
      get mode() { return ctl.mode.name; },
      get session() { return state.session; },
      get playing() { return state.playing; },
      get speed() { return state.speed; },
      get ended() { return state.ended; },
      get following() { return ctl.follower ? ctl.follower.following : null; },
      get latestFrame() { return state.latest; },
      get latestFull() { return state.latestFull; },
      get lastFrame() { return timeline.frame; },
      /** What the diagram shows now: its step and phase, and whether an animation is under way. */
      get shown() {
        const now = performance.now(), v = timeline.view(now);
        return { step: v.frame ? v.frame.step : null, phase: v.phase, t: v.t, done: v.done, animating: timeline.animating(now), live: timeline.live };
      },
      get frameCount() { return state.seq; },
      get drawStats() { return { ms: state.drawMs, draws: state.draws }; },
      get boundary() { return state.boundary; },
      get dataPoints() { return state.points; },
      get imagesStep() { return state.imagesStep; },
      get selection() { return views.network ? views.network.selection : null; },
      get chartSteps() { return views.charts ? { metrics: views.charts.metrics.lastStep, grads: views.charts.grads.lastStep } : null; },
      get batchHighlight() { return views.boundary ? views.boundary.highlight : null; },
      get focusHighlight() { return views.boundary ? views.boundary.focus : null; },
      get heatmap() { return views.boundary ? views.boundary.heat : null; },
      get neuronPlots() { return views.network ? views.network.plotted : []; },
      get neuronPictures() { return views.network ? views.network.pictured : []; },
      get layout() { return views.network ? views.network.cols.map((c) => c.nodes.map((n) => ({ x: n.x, y: n.y, s: n.s }))) : []; },
      get labelBoxes() { return views.network ? { width: views.network.cssW, boxes: views.network.labelBoxes || [] } : null; },
      get charts() { return views.charts; },
    };
    const hooks = {};
    Object.defineProperties(hooks, Object.getOwnPropertyDescriptors(common));
    Object.defineProperties(hooks, Object.getOwnPropertyDescriptors(extra));
    window.__backpropTest = hooks;
  }
}
