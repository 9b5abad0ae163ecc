// Plenary reader: makes the server-rendered page live over WebSocket (SSE as fallback), resuming with after=.
// The browser renders no Markdown: every update carries `html`, made and sanitised once by the server when the
// update was written (server/render.py holds the one allowed-tag list). It enters the page through the one
// Trusted Types policy below; everything else goes in through textContent.
// Exports (updateHTML, renderUpdate, headline, LiveFeed, ...) are reusable by the desk pages.

const HTTP_URL = /^https?:\/\//i;
const HEADLINE_CHARS = 110;
const PAGE_SIZE = 50;

// The page's CSP allows this policy name only ("trusted-types plenary-update"); it accepts nothing but
// update HTML from the server's own answers.
const updatePolicy = globalThis.trustedTypes
  ? globalThis.trustedTypes.createPolicy("plenary-update", { createHTML: (html) => html })
  : { createHTML: (html) => html };

/** An update's server-rendered `html` as a fragment (parsed inert, in a template); its text when it has none. */
export function updateHTML(update) {
  const template = document.createElement("template");
  if (typeof update.html === "string") template.innerHTML = updatePolicy.createHTML(update.html);
  else String(update.text ?? "").trim().split(/\r?\n/).forEach((line, n) => {
    if (n) template.content.append(document.createElement("br"));
    template.content.append(line);
  });
  return template.content;
}

function clip(text, limit = HEADLINE_CHARS) {
  if (text.length <= limit) return text;
  const cut = text.slice(0, limit - 1);
  return (cut.slice(0, cut.lastIndexOf(" ")) || cut).replace(/[ ,;:.]+$/, "") + "…";
}

/** One line for an update: its text, else its quote, else its image caption (as pages.headline does). */
export function headline(update) {
  let text = updateHTML(update).textContent.split(/\s+/).join(" ").trim();
  const quote = update.quote ?? {};
  if (!text && quote.text) text = `“${quote.text.split(/\s+/).join(" ").trim()}”${quote.speaker ? ` — ${quote.speaker}` : ""}`;
  if (!text) text = (update.image?.caption || update.image?.alt || "").split(/\s+/).join(" ").trim();
  return clip(text || "Update");
}

// --- one update as an <article>, the same structure pages.render_update writes ---

/** Build an element: props "class", "text", "hidden", "on<event>" (listeners), else attributes (a null,
 * undefined or false value sets nothing; true sets an empty attribute). The desks use it too. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "hidden") node.hidden = Boolean(value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

/** Time formatting in the event's zone: {time(iso), day(iso)} using en-GB 24-hour clock. */
export function clock(timeZone) {
  const time = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const day = new Intl.DateTimeFormat("en-GB", { timeZone, weekday: "short", day: "numeric", month: "short" });
  return { time: (iso) => time.format(new Date(iso)), day: (iso) => day.format(new Date(iso)).replace(",", "") };
}

/** Build the <article> of an update. ctx: {clock, multiDay, sessions: {id: title}}. */
export function renderUpdate(update, ctx) {
  const classes = ["update", update.key && "is-key", update.pinned && "is-pinned"].filter(Boolean).join(" ");
  const anchor = `u-${update.id}`;
  const time = el("time", { datetime: update.happened_at },
    ctx.multiDay ? el("span", { class: "update-day", text: ctx.clock.day(update.happened_at) }) : null,
    ctx.multiDay ? " " : null, ctx.clock.time(update.happened_at));
  const sessionTitle = update.session ? ctx.sessions[update.session] : undefined;
  const meta = el("header", { class: "update-meta" },
    el("a", { class: "update-time", href: `#${anchor}` }, time),
    sessionTitle ? el("span", { class: "update-session", text: sessionTitle }) : null,
    update.pinned ? el("span", { class: "badge badge-pinned", text: "Pinned" }) : null,
    update.key ? el("span", { class: "badge badge-key", text: "Key event" }) : null);
  const article = el("article", {
    class: classes, id: anchor, "data-id": update.id, "data-seq": update.seq ?? "",
    "data-version": String(update.version ?? 1), "data-received": update.received_at ?? "",
    "data-session": update.session ?? "",
  }, meta);
  if (update.html || (update.html === undefined && (update.text ?? "").trim())) {
    article.append(el("div", { class: "update-text" }, updateHTML(update)));
  }
  const quote = update.quote;
  if (quote?.text) {
    const p = el("p");
    quote.text.trim().split(/\r?\n/).forEach((line, n) => { if (n) p.append(el("br")); p.append(line); });
    article.append(el("figure", { class: "pull-quote" }, el("blockquote", {}, p),
      quote.speaker ? el("figcaption", { text: quote.speaker }) : null));
  }
  const image = update.image;
  if (image && HTTP_URL.test(image.url ?? "")) {
    const img = el("img", { src: image.url, alt: image.alt ?? "", loading: "lazy", decoding: "async",
      referrerpolicy: "no-referrer" });
    article.append(el("figure", { class: "update-image" }, img,
      image.caption ? el("figcaption", { text: image.caption }) : null));
  }
  if (update.tags?.length) article.append(el("ul", { class: "update-tags" }, ...update.tags.map((t) => el("li", { text: t }))));
  if (update.author?.name) article.append(el("footer", { class: "update-author", text: update.author.name }));
  return article;
}

// --- the live feed: WebSocket first, SSE when WebSockets do not get through; resume with after= ---

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const SLOW_READER = 4008;

/**
 * The one backoff of the browser code: a random wait up to min(capMs, baseMs * 2 ** attempt) (full jitter,
 * attempt counted from 0), or the server's Retry-After seconds when it gave them.
 */
export function backoffDelay(attempt, { baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS, retryAfter = null } = {}) {
  const seconds = Number(retryAfter);
  if (retryAfter !== null && Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
}

const TYPES = ["update", "edit", "delete", "session", "reflections", "resync"];

/**
 * A self-healing subscription to one event's feed. Every reconnect resumes with after = the last seq seen,
 * so nothing is missed and nothing repeats; delays grow exponentially with full jitter.
 */
export class LiveFeed {
  constructor({ event, session = null, after = null, onMessage, onStatus = () => {}, onResync = () => {} }) {
    Object.assign(this, { event, session, after, onMessage, onStatus, onResync });
    this.attempts = 0;
    this.wsFailures = 0;
    this.useSSE = !("WebSocket" in window);
    this.socket = null;
    this.source = null;
    this.timer = null;
    this.stopped = false;
    this.transport = null;
    this.held = null; // messages that came during a resync's reload
  }

  query() {
    const params = new URLSearchParams();
    if (this.after) params.set("after", this.after);
    if (this.session) params.set("session", this.session);
    const qs = params.toString();
    return qs ? `?${qs}` : "";
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.close();
  }

  close() {
    if (this.socket) { this.socket.onclose = this.socket.onmessage = this.socket.onerror = null; this.socket.close(); }
    if (this.source) this.source.close();
    this.socket = this.source = null;
  }

  /** Reconnect at once (the browser came back online, or the tab became visible after a drop). */
  nudge() {
    if (this.stopped || this.socket || this.source) return;
    clearTimeout(this.timer);
    this.connect();
  }

  connect() {
    this.timer = null;
    this.onStatus(this.attempts ? "reconnecting" : "connecting");
    if (this.useSSE) this.connectSSE(); else this.connectWS();
  }

  retry({ soon = false } = {}) {
    this.close();
    if (this.stopped) return;
    this.onStatus(navigator.onLine === false ? "offline" : "reconnecting");
    const wait = soon ? Math.random() * 250 : backoffDelay(this.attempts);
    if (!soon) this.attempts += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /**
   * A resync means our position is gone: onResync reloads the list and returns (or resolves to) the log
   * position read before it. Messages that arrive meanwhile are held and handed on after the reload, so the
   * reload cannot wipe them; the feed resumes from the newest of them, else from that position.
   */
  receive(message) {
    if (message.type === "resync") {
      this.after = null;
      const held = [];
      this.held = held;
      Promise.resolve(this.onResync())
        .then((position) => { if (!this.after) this.after = position ?? null; })
        .catch((err) => console.warn("plenary: reload after resync failed", err))
        .finally(() => { if (this.held === held) this.held = null; held.forEach((m) => this.onMessage(m)); });
      return;
    }
    if (message.seq) this.after = message.seq;
    if (this.held) this.held.push(message); else this.onMessage(message);
  }

  opened(transport) {
    this.attempts = 0;
    this.transport = transport;
    this.onStatus("live");
  }

  connectWS() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/events/${encodeURIComponent(this.event)}${this.query()}`);
    let open = false;
    this.socket = socket;
    socket.onopen = () => { open = true; this.wsFailures = 0; this.opened("websocket"); };
    socket.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      try { this.receive(JSON.parse(e.data)); } catch (err) { console.error("plenary: bad frame", err); }
    };
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!open && ++this.wsFailures >= 2) this.useSSE = true; // a proxy that drops upgrades: use SSE
      this.retry({ soon: e.code === SLOW_READER });
    };
  }

  connectSSE() {
    const source = new EventSource(`/api/events/${encodeURIComponent(this.event)}/stream${this.query()}`);
    let open = false;
    this.source = source;
    source.onopen = () => { open = true; this.opened("sse"); };
    const handle = (e) => {
      try {
        const message = JSON.parse(e.data);
        this.receive(message.type ? message : { type: e.type, seq: e.lastEventId || undefined, data: message });
      } catch (err) { console.error("plenary: bad event", err); }
    };
    for (const type of [...TYPES, "message"]) source.addEventListener(type, handle);
    // EventSource would retry on its own with Last-Event-ID; we retry ourselves so backoff and after= are ours.
    source.onerror = () => {
      if (this.source !== source) return;
      // Neither transport got through: the server is down rather than WebSockets blocked, so try both again.
      if (!open && "WebSocket" in window) { this.useSSE = false; this.wsFailures = 0; }
      this.retry();
    };
  }
}

// --- the reader page ---

/** Polite announcements for screen readers (the desks use it too). */
export function announcer(node) {
  let timer = null;
  return (message) => {
    clearTimeout(timer);
    node.textContent = "";
    timer = setTimeout(() => { node.textContent = message; }, 50);
  };
}

export const $ = (id) => document.getElementById(id);

export function startReader(config) {
  const feedEl = $("updates");
  const pinnedEl = $("pinned");
  const keyList = $("key-events");
  const newButton = $("new-updates");
  const statusEl = $("status");
  const announce = announcer($("announcer"));
  const ctx = { clock: clock(config.timezone), multiDay: config.multiDay, sessions: { ...config.sessions } };
  const pending = new Map(); // id -> update held behind the "N new updates" button

  document.documentElement.classList.add("js");
  const box = $("key-events-box");
  if (box && matchMedia("(min-width: 60em)").matches) box.open = true;

  // Filters: the session select reloads the page (the server filters); "Key events only" filters in place.
  const form = document.querySelector("form.controls");
  $("session")?.addEventListener("change", () => form.requestSubmit());
  $("only-key")?.addEventListener("change", (e) => {
    feedEl.classList.toggle("only-key", e.target.checked);
    const url = new URL(location.href);
    if (e.target.checked) url.searchParams.set("key", "1"); else url.searchParams.delete("key");
    history.replaceState(null, "", url);
  });

  const articles = () => document.querySelectorAll("#pinned .update, #updates .update");
  const find = (id) => document.getElementById(`u-${id}`);

  function refreshSideLists() {
    const rendered = new Map([...keyList.children].map((li) => [li.dataset.id, li]));
    const items = [...articles()].filter((a) => a.classList.contains("is-key")).map((a) => {
      // Server-rendered items are kept as they are; items of articles built here use their headline.
      if (!a.dataset.headline && rendered.has(a.dataset.id)) return rendered.get(a.dataset.id);
      const when = a.querySelector("time")?.getAttribute("datetime") ?? "";
      const text = a.dataset.headline || clip(a.textContent.split(/\s+/).join(" ").trim());
      return el("li", { "data-id": a.dataset.id },
        el("a", { href: `#${a.id}` }, el("time", { datetime: when, text: when ? ctx.clock.time(when) : "" }), " ",
          el("span", { class: "key-headline", text })));
    });
    keyList.replaceChildren(...items);
    keyList.nextElementSibling.hidden = items.length > 0;
    $("empty").hidden = articles().length > 0 || pending.size > 0;
    pinnedEl.hidden = !pinnedEl.querySelector(".update");
  }

  function build(update) {
    const article = renderUpdate(update, ctx);
    article.dataset.headline = headline(update);
    const permalink = `/events/${encodeURIComponent(config.event)}/updates/${encodeURIComponent(update.id)}`;
    article.append(el("a", { class: "update-share", href: permalink, text: "Share" })); // share.js handles clicks
    return article;
  }

  function placeInFeed(article) {
    // Newest first by creation time (received_at is the creation time, UTC, so strings compare).
    const received = article.dataset.received;
    const later = [...feedEl.children].find((a) => (a.dataset.received ?? "") < received);
    feedEl.insertBefore(article, later ?? null);
  }

  function pin(article) {
    const previous = pinnedEl.querySelector(".update");
    if (previous && previous !== article) placeInFeed(previous);
    pinnedEl.replaceChildren(article);
  }

  const scrolledDown = () => window.scrollY > 0 && feedEl.getBoundingClientRect().top < -40;

  function showPendingButton() {
    const n = pending.size;
    newButton.hidden = n === 0;
    newButton.textContent = n === 1 ? "1 new update" : `${n} new updates`;
  }

  function flushPending({ scroll = false } = {}) {
    if (!pending.size) return;
    const updates = [...pending.values()];
    pending.clear();
    for (const update of updates) insertNew(update, { hold: false });
    refreshSideLists();
    showPendingButton();
    if (scroll) {
      feedEl.scrollIntoView({ block: "start", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
      feedEl.focus({ preventScroll: true });
    }
  }

  /** Show a new update; ``hold``: a live one (held while the reader has scrolled down, refreshes the side
   * lists and is announced), not one of a batch being flushed (the caller refreshes once). */
  function insertNew(update, { hold = true } = {}) {
    const article = build(update);
    if (update.pinned) { pin(article); refreshSideLists(); announce(`Pinned: ${headline(update)}`); return; }
    if (hold && scrolledDown()) {
      pending.set(update.id, update);
      showPendingButton();
      announce(pending.size === 1 ? "1 new update above" : `${pending.size} new updates above`);
      return;
    }
    article.classList.add("is-new");
    feedEl.prepend(article);
    if (!hold) return;
    refreshSideLists();
    announce(`New update: ${headline(update)}`);
  }

  function apply(message) {
    const data = message.data ?? {};
    const outside = (u) => config.session && u.session !== config.session;
    switch (message.type) {
      case "update":
      case "edit": {
        if (pending.has(data.id)) { if (outside(data)) pending.delete(data.id); else pending.set(data.id, data); showPendingButton(); return; }
        const current = find(data.id);
        if (current && Number(current.dataset.version) > Number(data.version ?? 1)) return; // already newer
        if (outside(data)) { current?.remove(); refreshSideLists(); return; }
        if (!current) {
          if (message.type === "update" || data.pinned) insertNew(data);
          else if (config.session) { placeInFeed(build(data)); refreshSideLists(); } // moved into this session
          return;
        }
        const article = build(data);
        if (data.pinned) pin(article);
        else if (current.parentElement === pinnedEl) { current.remove(); placeInFeed(article); }
        else current.replaceWith(article);
        if (data.pinned && current.isConnected) current.remove();
        refreshSideLists();
        return;
      }
      case "delete":
        pending.delete(data.id);
        showPendingButton();
        find(data.id)?.remove();
        refreshSideLists();
        return;
      case "session":
        if (data.id && data.title) {
          ctx.sessions[data.id] = data.title;
          for (const a of articles()) {
            const label = a.dataset.session === data.id && a.querySelector(".update-session");
            if (label) label.textContent = data.title;
          }
        }
        return;
      case "reflections": {
        const url = data.url ?? data.path;
        if (typeof url !== "string" || !(url.startsWith("/") || HTTP_URL.test(url))) return;
        const notice = $("notice");
        notice.replaceChildren("The day's reflections are published: ",
          el("a", { href: url, text: data.title || "read the post" }));
        notice.hidden = false;
        announce("The day's reflections are published.");
        return;
      }
      default:
    }
  }

  async function reload() {
    // The feed said our position is too old: reload the latest list (LiveFeed holds what arrives meanwhile).
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (config.session) params.set("session", config.session);
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await fetch(`/api/events/${encodeURIComponent(config.event)}/updates?${params}`, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const { updates, position } = await response.json();
        pending.clear();
        showPendingButton();
        const keepPinned = pinnedEl.querySelector(".update");
        const pinned = updates.find((u) => u.pinned);
        feedEl.replaceChildren(...updates.filter((u) => !u.pinned && u.id !== keepPinned?.dataset.id).reverse().map(build));
        if (pinned) pin(build(pinned));
        refreshSideLists();
        // resume from the log position read before the list (the list may be empty, or filtered to a session)
        return position ?? updates.at(-1)?.seq ?? null;
      } catch (err) {
        console.warn("plenary: reload failed", err);
        await new Promise((r) => { setTimeout(r, backoffDelay(attempt)); });
      }
    }
  }

  const status = {
    connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline — will reconnect",
  };
  const feed = new LiveFeed({
    event: config.event,
    session: config.session,
    after: config.after,
    onStatus: (state) => {
      statusEl.hidden = false;
      statusEl.dataset.state = state;
      statusEl.textContent = status[state] ?? state;
    },
    onMessage: apply,
    onResync: reload,
  });

  newButton.addEventListener("click", () => flushPending({ scroll: true }));
  window.addEventListener("scroll", () => { if (pending.size && !scrolledDown()) flushPending(); }, { passive: true });

  if (config.live) {
    feed.start();
    window.addEventListener("online", () => feed.nudge());
    document.addEventListener("visibilitychange", () => { if (!document.hidden) feed.nudge(); });
    pollReaders(config.event, $("readers"));
  }
  refreshSideLists();
  window.plenaryReader = { feed, config }; // for tests and debugging; holds no secrets
  return feed;
}

function pollReaders(event, node) {
  // Readers across all server processes; the endpoint may not exist on older servers: then stop asking.
  const url = `/api/events/${encodeURIComponent(event)}/readers`;
  const tick = async () => {
    if (!document.hidden) {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.status === 404) return;
        if (response.ok) {
          const { readers } = await response.json();
          if (Number.isFinite(readers)) {
            node.textContent = readers === 1 ? "1 reader" : `${readers.toLocaleString("en-GB")} readers`;
            node.hidden = false;
          }
        }
      } catch { /* offline: try again at the next tick */ }
    }
    setTimeout(tick, 15000);
  };
  tick();
}

const configNode = document.getElementById("reader-config");
if (configNode) startReader(JSON.parse(configNode.textContent));
