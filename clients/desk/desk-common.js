// Plenary desks, shared: sign-in with a token kept for this tab only, API calls, DOM and time-zone helpers.
// The token lives in sessionStorage and travels only in the Authorization header: never in a URL, a cookie
// or localStorage, so another origin's page has nothing to ride on (see docs/desks.md).

const TOKEN_KEY = "plenary.desk.token";

import { $ } from "./reader.js";

export { $, announcer, el } from "./reader.js";

export function readConfig() {
  return JSON.parse($("desk-config").textContent);
}

/** A random key for Idempotency-Key (getRandomValues works outside secure contexts too). */
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "desk-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** An HTTP answer: status, parsed body (JSON or null), and the problem detail when it is an error. */
function answer(status, body, headers) {
  const detail = body && typeof body === "object" ? (body.detail || body.title) : null;
  return { status, ok: status >= 200 && status < 300, body, detail: detail || `HTTP ${status}`, headers };
}

export class Auth {
  constructor({ onChange = () => {} } = {}) {
    this.onChange = onChange;
    this.who = null;
  }

  get token() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
  }

  /** Check the token with the server and keep it for this tab; returns null or the problem detail. */
  async signIn(token) {
    const value = token.trim();
    if (!value) return "Paste your token.";
    let response;
    try {
      response = await fetch("/desk/whoami", { headers: { Authorization: `Bearer ${value}`, Accept: "application/json" }, cache: "no-store" });
    } catch {
      return "The server cannot be reached. Check the connection and try again.";
    }
    if (!response.ok) return response.status === 401 ? "That token is unknown or revoked." : `The server answered ${response.status}.`;
    this.who = await response.json();
    sessionStorage.setItem(TOKEN_KEY, value);
    sessionStorage.setItem(`${TOKEN_KEY}.name`, this.who.name);
    this.onChange(this.who);
    return null;
  }

  /** Who the kept token belongs to, or null (no token, or the server refused it). Throws when offline. */
  async restore() {
    const token = this.token;
    if (!token) return null;
    const response = await fetch("/desk/whoami", { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" }, cache: "no-store" });
    if (response.status === 401) { this.signOut(); return null; }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    this.who = await response.json();
    sessionStorage.setItem(`${TOKEN_KEY}.name`, this.who.name);
    return this.who;
  }

  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(`${TOKEN_KEY}.name`);
    this.who = null;
    this.onChange(null);
  }

  /** Call the API with the token. Network failures throw (TypeError / AbortError); HTTP errors do not. */
  async call(method, path, body, { headers = {}, timeoutMs = 15000 } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const all = { Accept: "application/json", ...headers };
    if (this.token) all.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) all["Content-Type"] = "application/json";
    try {
      const response = await fetch(path, {
        method, headers: all, body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal, cache: "no-store", credentials: "omit",
      });
      const text = await response.text();
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
      if (response.status === 401 && this.token) this.onChange(null, "expired");
      return answer(response.status, parsed, response.headers);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Wire the sign-in form: shows #signin until a token is accepted, then calls start(who) once.
 * The token input is cleared at once; the value is never logged.
 */
export function signInFlow(auth, start, { role = "reporter" } = {}) {
  const form = $("signin");
  const desk = $("desk");
  const error = $("signin-error");
  const whoEl = $("who");
  let started = false;
  const order = ["reporter", "editor", "admin"];

  function show(who) {
    const allowed = who && order.indexOf(who.role) >= order.indexOf(role);
    form.hidden = Boolean(allowed);
    desk.hidden = !allowed;
    $("signout").hidden = !who;
    whoEl.textContent = who ? `Signed in as ${who.name} (${who.role})` : "Not signed in";
    if (who && !allowed) {
      error.textContent = `This desk needs an ${role} token; ${who.name} is a ${who.role}.`;
      error.hidden = false;
    }
    if (allowed && !started) { started = true; start(who); }
  }

  auth.onChange = (who, reason) => {
    if (reason === "expired") {
      sessionStorage.removeItem(TOKEN_KEY);
      auth.who = null;
      error.textContent = "The server no longer accepts your token. Sign in again; nothing waiting to be sent is lost.";
      error.hidden = false;
      form.hidden = false;
      $("signout").hidden = true;
      whoEl.textContent = "Not signed in";
      $("token").focus();
      return;
    }
    show(who);
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("token");
    const value = input.value;
    input.value = "";
    error.hidden = true;
    const problem = await auth.signIn(value);
    if (problem) { error.textContent = problem; error.hidden = false; input.focus(); return; }
    if (started) { form.hidden = true; desk.hidden = false; }
  });
  $("signout").addEventListener("click", () => { auth.signOut(); location.reload(); });

  auth.restore().then((who) => {
    if (who) show(who); else { form.hidden = false; $("token").focus(); }
  }).catch(() => {
    // Offline with a kept token: open the desk anyway; the outbox keeps posts until the server answers.
    if (auth.token) show({ name: sessionStorage.getItem(`${TOKEN_KEY}.name`) || "", role, offline: true });
    else form.hidden = false;
  });
  return show;
}

// --- the offline shell: a service worker keeps the desk's page and files (sw.js) ---

const WORKER = "/desk/sw.js";

/** Register the desk's service worker (the one Trusted Types policy lets only its URL through). */
export function keepShellOffline() {
  if (!("serviceWorker" in navigator)) return;
  const policy = window.trustedTypes?.createPolicy("plenary-desk", {
    createScriptURL: (url) => { if (url !== WORKER) throw new TypeError(`not the desk's worker: ${url}`); return url; },
  });
  navigator.serviceWorker.register(policy ? policy.createScriptURL(WORKER) : WORKER, { scope: "/desk/" })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      // What this page loaded: its scripts and styles, and the modules its script imports.
      const loaded = [...document.querySelectorAll("script[src], link[rel=stylesheet]")].map((n) => n.src || n.href);
      const modules = ["desk-common.js", "reader.js"].map((name) => new URL(`/static/${name}`, location.href).href);
      registration.active?.postMessage({ type: "cache", urls: [location.href.split("#")[0], ...loaded, ...modules] });
    })
    .catch((err) => console.warn("plenary: the desk will not open offline", err));
}

// --- time zones: the event's zone, not the browser's ---

function parts(date, timeZone) {
  const fmt = new Intl.DateTimeFormat("en-GB", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23",
  });
  const out = {};
  for (const p of fmt.formatToParts(date)) out[p.type] = p.value;
  return out;
}

/** The calendar date (YYYY-MM-DD) and time (HH:MM) of an instant in a zone. */
export function localParts(value, timeZone) {
  const p = parts(new Date(value), timeZone);
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}` };
}

function offsetMinutes(date, timeZone) {
  const p = parts(date, timeZone);
  const asUTC = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return Math.round((asUTC - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

/** RFC 3339 with the zone's offset for a wall-clock date and time in that zone. */
export function zonedIso(date, time, timeZone) {
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let offset = offsetMinutes(new Date(wall), timeZone);
  offset = offsetMinutes(new Date(wall - offset * 60000), timeZone);
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date}T${pad(hh)}:${pad(mm)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
