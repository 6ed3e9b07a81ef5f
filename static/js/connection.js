// REST and WebSocket access to one session, as described in docs/API.md.
// Messages from the server are dispatched by their `type` to listeners registered with on(type, fn).

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.detail;
    let message = `HTTP ${status}`;
    if (detail && typeof detail === "object" && !Array.isArray(detail)) message = detail.message || detail.code || message;
    else if (Array.isArray(detail) && detail.length) message = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    else if (typeof detail === "string") message = detail;
    super(message);
    this.status = status;
    this.code = detail && detail.code;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// while disconnected, commands wait (at most QUEUE_MAX, the oldest dropped); of those that set one thing (play or
// pause, the speed, the presentation) only the latest waits
const QUEUE_MAX = 32;
const LATEST_WINS = { play: "playback", pause: "playback", set_speed: "speed", present: "present" };

/** Why a close ends the connection for good (null: reconnect). `event` is what the page hears. */
export function stopReason(ev) {
  if (ev.code === 4404 || ev.code === 1008) {
    const deleted = /deleted/.test(ev.reason || "");
    return { event: "session_lost", text: deleted ? "the run was ended by its owner" : "this run no longer exists" };
  }
  if (ev.code === 4429) return { event: "refused", text: "this run has as many clients as the server allows" };
  return null;
}

/** Milliseconds before reconnect attempt n (0, 1, ...): doubling from 250 ms up to 8 s, with some jitter so that a
 * class cut off together does not come back in the same instant. */
export function backoff(n) {
  const base = Math.min(8000, 250 * 2 ** Math.min(n, 5));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

export class Connection {
  constructor() {
    this.sessionId = null;
    this.ws = null;
    this.listeners = new Map();
    this.retry = 0;
    this.subscription = null;
    this.closedOnPurpose = false;
    this.queue = [];
    this.stopped = null;
    this.timer = null;
    // back online after a network loss: no need to wait for the next attempt
    window.addEventListener("online", () => this.reconnectNow());
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }

  emit(type, msg) {
    for (const fn of this.listeners.get(type) || []) fn(msg);
  }

  // REST, bound to the current session
  createSession(config) { return api("POST", "/api/sessions", config); }
  getState() { return api("GET", `/api/sessions/${this.sessionId}`); }
  patch(config, reset = false) { return api("PATCH", `/api/sessions/${this.sessionId}${reset ? "?reset=true" : ""}`, config); }
  restStep(phase, count = 1, detail = "full") { return api("POST", `/api/sessions/${this.sessionId}/step`, { phase, count, detail }); }
  getData() { return api("GET", `/api/sessions/${this.sessionId}/data?split=all`); }
  getHistory(every = 1) { return api("GET", `/api/sessions/${this.sessionId}/history?every=${every}`); }
  getBoundary(resolution = 48, neurons = true) {
    return api("GET", `/api/sessions/${this.sessionId}/boundary?resolution=${resolution}&neurons=${neurons}`);
  }
  deleteSession(id) { return api("DELETE", `/api/sessions/${id}`).catch(() => null); }

  // WebSocket
  open(sessionId) {
    this.close();
    this.sessionId = sessionId;
    this.closedOnPurpose = false;
    this.stopped = null;
    this.retry = 0;
    this._connect();
  }

  _connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws/sessions/${this.sessionId}`);
    this.ws = ws;
    this.emit("status", { connected: false, text: "connecting…" });
    ws.onopen = () => {
      this.retry = 0;
      this.emit("status", { connected: true, text: "live" });
      if (this.subscription) this._send({ type: "subscribe", ...this.subscription });
      for (const m of this.queue.splice(0)) this._send(m);
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.emit(msg.type, msg);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws || this.closedOnPurpose) return;
      const stop = stopReason(ev);
      if (stop) {  // trying again would not help: say why and stay closed
        this.stopped = stop;
        this.queue = [];
        this.emit("status", { connected: false, stopped: true, text: `not connected: ${stop.text}` });
        this.emit(stop.event, ev);
        return;
      }
      const delay = backoff(this.retry++);
      this.emit("status", { connected: false, lost: true, text: `connection lost: reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…` });
      this.timer = setTimeout(() => this.reconnectNow(), delay);
    };
    ws.onerror = () => {};
  }

  /** After a lost connection: try again now (the browser is back online) instead of waiting out the backoff. */
  reconnectNow() {
    if (!this.sessionId || this.closedOnPurpose || this.stopped) return;
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) return;
    clearTimeout(this.timer);
    this._connect();
  }

  close() {
    this.closedOnPurpose = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    if (ws) {
      // closing a socket that is still connecting logs an error in some browsers: close it once open instead
      if (ws.readyState === WebSocket.CONNECTING) { ws.onopen = () => ws.close(); ws.onmessage = null; }
      else { try { ws.close(); } catch { /* already closed */ } }
    }
    this.ws = null;
    this.queue = [];
  }

  _send(msg) { this.ws.send(JSON.stringify(msg)); }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) { this._send(msg); return; }
    const group = LATEST_WINS[msg.type];
    if (group) this.queue = this.queue.filter((m) => LATEST_WINS[m.type] !== group);
    this.queue.push(msg);
    if (this.queue.length > QUEUE_MAX) this.queue.shift();
  }

  subscribe(opts) {
    const same = this.subscription && JSON.stringify(this.subscription) === JSON.stringify(opts);
    this.subscription = opts;
    // a socket still connecting sends the subscription once open
    if (!same && this.ws && this.ws.readyState === WebSocket.OPEN) this._send({ type: "subscribe", ...opts });
  }

  play() { this.send({ type: "play" }); }
  pause() { this.send({ type: "pause" }); }
  step(count = 1) { this.send({ type: "step", count }); }
  stepPhase() { this.send({ type: "step_phase" }); }
  setSpeed(sps) { this.send({ type: "set_speed", steps_per_second: sps }); }
  setConfig(config, reset = false) { this.send({ type: "set_config", config, reset }); }
  reset(seed, data_seed) {
    const m = { type: "reset" };
    if (seed != null) m.seed = seed;
    if (data_seed != null) m.data_seed = data_seed;
    this.send(m);
  }
}
