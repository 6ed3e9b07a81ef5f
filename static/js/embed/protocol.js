// The host API of the embedded widget: window.postMessage between a host page and the widget's iframe.
// Every message is {"source": "backprop-live", "version": 1, "type": ..., ...fields}; see docs/EMBEDDING.md.
// This module knows nothing of the views: it checks shapes and origins, and delivers commands to a handler.

export const SOURCE = "backprop-live";
export const VERSION = 1;

// host -> widget commands and the fields each may carry (with a check per field)
const isNum = (v) => typeof v === "number" && Number.isFinite(v);
const isInt = (v) => Number.isInteger(v);
export const COMMANDS = {
  play: {},
  pause: {},
  step: { count: (v) => isInt(v) && v >= 1 && v <= 10000 },
  step_phase: { until: (v) => ["forward", "loss", "backward", "update"].includes(v) },
  reset: { seed: (v) => v === null || (isInt(v) && v >= 0), data_seed: (v) => v === null || (isInt(v) && v >= 0) },
  set_config: { config: (v) => v !== null && typeof v === "object" && !Array.isArray(v), reset: (v) => typeof v === "boolean" },
  set_speed: { steps_per_second: (v) => isNum(v) && v >= 0.2 && v <= 1000 },
  get_state: {},
};
export const REQUIRED = { set_config: ["config"], set_speed: ["steps_per_second"] };
// widget -> host events
export const EVENTS = ["ready", "step", "phase", "state", "resize", "error", "lesson", "exercise"];

// Every error code the widget sends the host in an `error` event (docs/EMBEDDING.md lists them), with what a
// student is told (null: nothing, because the message is for the host page's developer or another part of the
// widget already says it). The host page always gets the code and the full message.
const AGAIN = "This run has ended. Reload the page to start a new one.";
const BUSY = "The server is busy right now. Reload the page in a while.";
const GRADEBOOK = "Your answer could not be saved to the course's gradebook.";
const OWN_DATA_GONE = "The data of this link is no longer kept on the server, so the widget shows a standard network instead.";
export const ERROR_CODES = {
  bad_message: null, invalid_message: null, invalid_config: null, needs_reset: null, phase_order: null,
  mid_step: null, read_only: null, no_boundary: null, too_large: null, body_too_large: null, command_failed: null,
  not_finite: null, step_out_of_range: null,
  over_budget: null, cpu_budget: null, rate_limited: null, too_many_messages: null, too_deep: null, // a request priced or sent past a limit (docs/API.md)
  diverged: null, // the widget's banner says it, with a reset button
  lesson_invalid: null, // the lesson area lists the problems
  config_refused: "This widget's setup could not be used, so it shows a standard network instead.",
  dataset_not_found: OWN_DATA_GONE, invalid_id: OWN_DATA_GONE,
  session_lost: AGAIN, session_not_found: AGAIN, session_deleted: AGAIN,
  too_many_clients: "This run already has as many watchers as the server allows. Reload in a while to try again.",
  too_many_sessions: BUSY, too_many_creations: BUSY, address_memory: BUSY,
  internal_error: "Something went wrong on the server. If the widget stops responding, reload the page.",
  start_failed: "The widget could not start. Reload the page to try again.",
  // a lesson launched from a graded LTI link: the score endpoint's own codes (docs/LTI.md) come through as they are
  gradebook_failed: GRADEBOOK, unknown_launch: GRADEBOOK, not_an_exercise: GRADEBOOK, score_refused: GRADEBOOK,
  token_refused: GRADEBOOK, platform_unreachable: GRADEBOOK, lti_off: GRADEBOOK,
};

/** What a student sees for an error code (null: nothing). */
export const studentMessage = (code) => (code in ERROR_CODES ? ERROR_CODES[code] : ERROR_CODES.internal_error);

/** A message of the protocol, or null: `{source, version, type}` plus the fields of that type. */
export function message(type, fields = {}) {
  return { source: SOURCE, version: VERSION, type, ...fields };
}

/** Checks a host message. Returns {ok: true, command} or {ok: false, reason} (null when not ours at all). */
export function parseCommand(data) {
  if (!data || typeof data !== "object" || data.source !== SOURCE) return null; // not for us: stay silent
  if (data.version !== VERSION) return { ok: false, reason: `unsupported version ${JSON.stringify(data.version)}; this widget speaks version ${VERSION}` };
  const spec = COMMANDS[data.type];
  if (!spec) return { ok: false, reason: `unknown command ${JSON.stringify(data.type)}; known: ${Object.keys(COMMANDS).join(", ")}` };
  for (const key of REQUIRED[data.type] || []) {
    if (!(key in data)) return { ok: false, reason: `${data.type} needs "${key}"` };
  }
  for (const [key, value] of Object.entries(data)) {
    if (key === "source" || key === "version" || key === "type" || key === "id") continue;
    const check = spec[key];
    if (!check) return { ok: false, reason: `${data.type} takes no field "${key}"` };
    if (!check(value)) return { ok: false, reason: `${data.type}: "${key}" is out of range or of the wrong type (${JSON.stringify(value)})` };
  }
  return { ok: true, command: data };
}

export function originOf(url) {
  try { return new URL(url).origin; } catch { return null; }
}

/**
 * The widget's side of the channel. `allowed` is the list of host origins (empty: any host).
 * Commands from other origins, or of unknown shape, are ignored (an unknown shape from an allowed host gets an
 * `error` event back, so a host developer sees the mistake). Events are posted to the host's origin only:
 * the allowed origin the host was found at, or "*" when no allow-list is set.
 */
export class HostChannel {
  constructor({ allowed = [], onCommand, target = window.parent, self = window } = {}) {
    this.allowed = allowed.map((o) => o.replace(/\/$/, "").toLowerCase());
    this.onCommand = onCommand || (() => {});
    this.target = target;
    this.embedded = target && target !== self;
    this.hostOrigin = this._initialHostOrigin(self);
    this.ignored = 0;
    this._listener = (ev) => this._receive(ev);
    self.addEventListener("message", this._listener);
  }

  allows(origin) {
    if (!this.allowed.length) return true;
    if (!origin) return false;
    const o = origin.toLowerCase();
    return this.allowed.some((a) => a === o || (a.includes("://*.") && o.startsWith(a.split("*.")[0]) && o.endsWith(`.${a.split("://*.")[1]}`)));
  }

  _initialHostOrigin(self) {
    if (!this.allowed.length) return "*";
    // where the widget is embedded: Chromium and Safari tell it directly, the referrer tells the others
    const ancestors = self.location && self.location.ancestorOrigins;
    const candidate = (ancestors && ancestors.length ? ancestors[0] : null) || originOf(self.document?.referrer || "");
    return candidate && this.allows(candidate) ? candidate : null;
  }

  _receive(ev) {
    if (ev.source !== this.target) return; // only the embedding page speaks to the widget
    if (!this.allows(ev.origin)) { this.ignored++; return; }
    const parsed = parseCommand(ev.data);
    if (parsed === null) return;
    if (this.allowed.length) this.hostOrigin = ev.origin;
    if (!parsed.ok) { this.post("error", { code: "bad_message", message: parsed.reason, request: ev.data?.type ?? null }); return; }
    this.onCommand(parsed.command);
  }

  post(type, fields = {}) {
    if (!this.embedded || !this.hostOrigin) return false;
    this.target.postMessage(message(type, fields), this.hostOrigin);
    return true;
  }

  close() { window.removeEventListener("message", this._listener); }
}
