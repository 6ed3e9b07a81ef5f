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

export class Connection {
  constructor() {
    this.sessionId = null;
    this.ws = null;
    this.listeners = new Map();
    this.retry = 0;
    this.subscription = null;
    this.closedOnPurpose = false;
    this.queue = [];
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
      if (ev.code === 4404 || ev.code === 1008) {
        this.emit("status", { connected: false, text: "session closed" });
        this.emit("session_lost", ev);
        return;
      }
      if (ev.code === 4429) {  // the run has all the clients it may have: trying again at once would not help
        this.emit("status", { connected: false, text: "not connected: this run has too many clients" });
        this.emit("refused", ev);
        return;
      }
      const delay = Math.min(8000, 250 * 2 ** this.retry++);
      this.emit("status", { connected: false, text: `reconnecting in ${Math.round(delay / 1000)} s…` });
      setTimeout(() => { if (ws === this.ws && !this.closedOnPurpose) this._connect(); }, delay);
    };
    ws.onerror = () => {};
  }

  close() {
    this.closedOnPurpose = true;
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
