// Plenary reporter desk: composer with live preview, an offline-safe outbox, own updates, the live feed.
// Every post is written to the outbox (localStorage) with its Idempotency-Key and happened_at the moment the
// reporter presses Post; it leaves the outbox only when the server answers 201, so nothing is lost or doubled.
// A post's photo waits in IndexedDB under the post's key; it is uploaded first (a retried upload of the same
// photo gets the same URL: the server names photos by content), then the post goes out with its URL.

import { LiveFeed, backoffDelay, clock, headline, renderUpdate } from "./reader.js";
import { $, Auth, announcer, el, localParts, randomKey, readConfig, signInFlow, keepShellOffline } from "./desk-common.js";

const MAX_TEXT = 10000;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 30000;
const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

const config = readConfig();
const ctx = { clock: clock(config.timezone), multiDay: config.multiDay, sessions: {} };
for (const s of config.sessions) ctx.sessions[s.id] = s.title;
const announce = announcer($("announcer"));
const auth = new Auth();
let me = null;

// --- photos waiting to be uploaded: Blobs in IndexedDB, keyed by their post's Idempotency-Key ---

const photos = {
  db: null,
  open() {
    this.db ??= new Promise((resolve, reject) => {
      const request = indexedDB.open("plenary-desk", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("photos");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.db;
  },
  async run(mode, action) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("photos", mode);
      const request = action(tx.objectStore("photos"));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  },
  put(key, blob) { return this.run("readwrite", (store) => store.put(blob, key)); },
  get(key) { return this.run("readonly", (store) => store.get(key)); },
  remove(key) { return this.run("readwrite", (store) => store.delete(key)); },
};

/** POST the photo with upload progress (fetch has none); resolves like Auth.call, or null when no answer came. */
function uploadPhoto(blob, name, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/events/${encodeURIComponent(config.event)}/media`);
    xhr.setRequestHeader("Accept", "application/json");
    if (auth.token) xhr.setRequestHeader("Authorization", `Bearer ${auth.token}`);
    xhr.timeout = 120000;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      resolve({ status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, body,
        detail: body?.detail ?? `HTTP ${xhr.status}`, headers: { get: (header) => xhr.getResponseHeader(header) } });
    };
    xhr.onerror = xhr.ontimeout = xhr.onabort = () => resolve(null);
    const form = new FormData();
    form.append("file", blob, name || "photo");
    xhr.send(form);
  });
}

function showUpload(fraction) {
  const box = $("upload");
  box.hidden = fraction === null;
  if (fraction !== null) $("upload-progress").value = Math.round(fraction * 100);
}

/** Upload a waiting post's photo; the post's body with the photo's URL, or the failed answer (null: none). */
async function sendPhoto(item) {
  const blob = await photos.get(item.key).catch(() => undefined);
  if (!blob) return { failed: { status: 422, detail: "the photo is no longer in this browser's storage" } };
  showUpload(0);
  const answer = await uploadPhoto(blob, item.body.photo.name, showUpload);
  showUpload(null);
  if (answer?.status !== 201) return { failed: answer };
  const { photo: _photo, ...rest } = item.body;
  const { url, width, height } = answer.body;
  return { body: { ...rest, image: { ...(rest.image ?? {}), url, width, height } } };
}

// --- the outbox: FIFO in localStorage, one list per event, shared by the tabs of this browser ---

class Outbox {
  constructor(event) {
    this.storageKey = `plenary.outbox.${event}`;
    this.event = event;
    this.timer = null;
    this.busy = false;
    this.sent = []; // this page's recently sent items, newest first (in memory only)
    this.onChange = () => {};
  }

  load() {
    try { return JSON.parse(localStorage.getItem(this.storageKey) || "[]"); } catch { return []; }
  }

  save(items) {
    localStorage.setItem(this.storageKey, JSON.stringify(items));
    this.onChange();
  }

  update(key, change) {
    const items = this.load();
    const item = items.find((i) => i.key === key);
    if (item) { Object.assign(item, change); this.save(items); }
    return item;
  }

  remove(key) {
    this.save(this.load().filter((i) => i.key !== key));
    photos.remove(key).catch(() => {});
  }

  /** Keep a post: written once, with its key and happened_at; then try to send it. */
  add(body, key = randomKey()) {
    const item = { key, author: me?.name ?? "", body, state: "pending", attempts: 0, nextAt: 0,
      written_at: new Date().toISOString(), problem: null };
    this.save([...this.load(), item]);
    this.flush();
    return item;
  }

  schedule() {
    clearTimeout(this.timer);
    const waiting = this.load().filter((i) => i.state === "pending" && i.author === me?.name);
    if (!waiting.length) return;
    const delay = Math.max(250, Math.min(...waiting.map((i) => i.nextAt)) - Date.now());
    this.timer = setTimeout(() => this.flush(), delay);
  }

  /** Send what is due, oldest first; a later post never overtakes an earlier one that is still waiting. */
  async flush({ now = false } = {}) {
    if (now) for (const i of this.load()) if (i.state === "pending") this.update(i.key, { nextAt: 0 });
    if (this.busy || !auth.token || !me) return;
    this.busy = true;
    try {
      const run = () => this.drain();
      if (navigator.locks) await navigator.locks.request(this.storageKey, run); else await run();
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  async drain() {
    for (;;) {
      const next = this.load().find((i) => i.state === "pending" && i.author === me.name);
      if (!next || next.nextAt > Date.now() || !auth.token) return;
      this.update(next.key, { sending: true });
      let result = null;
      const uploaded = next.body.photo ? await sendPhoto(next) : null;
      if (uploaded?.body) Object.assign(next, this.update(next.key, { body: uploaded.body }) ?? { body: uploaded.body });
      if (uploaded && !uploaded.body) {
        result = uploaded.failed; // the photo did not get through: the post waits (or is refused) with it
      } else {
        try {
          result = await auth.call("POST", `/api/events/${encodeURIComponent(this.event)}/updates`, next.body,
            { headers: { "Idempotency-Key": next.key } });
        } catch {
          result = null; // offline, refused connection or timed out: the server may or may not have it; the key decides
        }
      }
      if (result?.status === 201) {
        this.remove(next.key);
        this.sent.unshift({ ...next, state: "sent", update: result.body });
        this.sent.length = Math.min(this.sent.length, 5);
        this.onChange();
        onOwnUpdate(result.body);
        announce(`Sent: ${headline(result.body)}`);
        continue;
      }
      if (result && result.status === 401) { this.update(next.key, { sending: false }); return; }
      if (result && !RETRYABLE.has(result.status)) {
        this.update(next.key, { sending: false, state: "refused", problem: result.detail, status: result.status });
        announce(`Refused: ${result.detail}`);
        continue;
      }
      const attempts = next.attempts + 1;
      const wait = backoffDelay(attempts, { baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS,
        retryAfter: result?.headers?.get("Retry-After") ?? null });
      this.update(next.key, { sending: false, attempts, nextAt: Date.now() + Math.max(250, wait),
        problem: result ? result.detail : (navigator.onLine === false ? "offline" : "no answer from the server") });
      return;
    }
  }
}

const outbox = new Outbox(config.event);

// --- composer ---

const form = $("composer");
const fields = {
  text: $("text"), session: $("session"), key: $("key"), quote: $("quote"), speaker: $("speaker"),
  imageUrl: $("image-url"), caption: $("image-caption"), alt: $("image-alt"), tags: $("tags"),
};
let sessionChosen = false;
let chosenPhoto = null; // a File from the camera or the library, until Post keeps it in IndexedDB

function choosePhoto(file) {
  chosenPhoto = file ?? null;
  $("photo-chosen").hidden = !chosenPhoto;
  $("photo-name").textContent = chosenPhoto ? `${chosenPhoto.name} (${Math.ceil(chosenPhoto.size / 1024).toLocaleString("en-GB")} KB) ` : "";
  for (const id of ["photo-camera", "photo-library"]) $(id).value = "";
  if (chosenPhoto) { $("extras").open = true; announce("Photo added. Describe it in the alt text."); }
  renderPreview();
}

for (const id of ["photo-camera", "photo-library"]) $(id).addEventListener("change", (e) => choosePhoto(e.target.files?.[0]));
$("photo-remove").addEventListener("click", () => choosePhoto(null));

function todaysSessions(now = new Date()) {
  const today = localParts(now, config.timezone).date;
  return config.sessions.filter((s) => s.day === today);
}

/** The session running now in the event's zone (started, and not ended or superseded), else "". */
function runningSession(now = new Date()) {
  const sessions = todaysSessions(now).slice().sort((a, b) => a.starts_at.localeCompare(b.starts_at));
  let found = "";
  sessions.forEach((s, n) => {
    const start = new Date(s.starts_at);
    const end = s.ends_at ? new Date(s.ends_at) : (sessions[n + 1] ? new Date(sessions[n + 1].starts_at) : null);
    if (start <= now && (!end || now < end)) found = s.id;
  });
  return found;
}

function fillSessions() {
  const current = fields.session.value;
  const options = [el("option", { value: "", text: "No session" })];
  const byDay = new Map();
  for (const s of [...config.sessions].sort((a, b) => a.starts_at.localeCompare(b.starts_at))) {
    if (!byDay.has(s.day)) byDay.set(s.day, []);
    byDay.get(s.day).push(s);
  }
  for (const [day, sessions] of byDay) {
    const items = sessions.map((s) => el("option", { value: s.id, text: `${ctx.clock.time(s.starts_at)} ${s.title}` }));
    options.push(config.multiDay ? el("optgroup", { label: ctx.clock.day(`${day}T12:00:00Z`) }, ...items) : items);
  }
  fields.session.replaceChildren(...options.flat());
  const wanted = sessionChosen ? current : runningSession();
  fields.session.value = config.sessions.some((s) => s.id === wanted) ? wanted : "";
  fillSpeakers();
}

function fillSpeakers() {
  const chosen = config.sessions.find((s) => s.id === fields.session.value);
  const pool = chosen ? [chosen] : todaysSessions();
  const names = [...new Set(pool.flatMap((s) => (s.speakers ?? []).map((p) => p.name)))];
  $("speakers").replaceChildren(...names.map((name) => {
    const person = pool.flatMap((s) => s.speakers ?? []).find((p) => p.name === name);
    const label = [person?.role, person?.organisation].filter(Boolean).join(", ");
    return el("option", { value: name, label: label || null });
  }));
}

function draftBody() {
  const body = { text: fields.text.value.trim() };
  if (fields.session.value) body.session = fields.session.value;
  if (fields.key.checked) body.key = true;
  if (fields.quote.value.trim()) {
    body.quote = { text: fields.quote.value.trim() };
    if (fields.speaker.value.trim()) body.quote.speaker = fields.speaker.value.trim();
  }
  if (fields.imageUrl.value.trim() || chosenPhoto) {
    body.image = chosenPhoto ? {} : { url: fields.imageUrl.value.trim() };
    if (fields.caption.value.trim()) body.image.caption = fields.caption.value.trim();
    if (fields.alt.value.trim()) body.image.alt = fields.alt.value.trim();
  }
  if (chosenPhoto) body.photo = { name: chosenPhoto.name, type: chosenPhoto.type, size: chosenPhoto.size };
  const tags = fields.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
  if (tags.length) body.tags = tags;
  return body;
}

function renderPreview() {
  const body = draftBody();
  const length = fields.text.value.length;
  const count = $("text-count");
  count.textContent = `${length.toLocaleString("en-GB")} / ${MAX_TEXT.toLocaleString("en-GB")}`;
  count.classList.toggle("over", length > MAX_TEXT);
  const preview = $("preview");
  if (!body.text && !body.quote && !body.image) {
    preview.replaceChildren(el("p", { class: "hint", text: "Your update appears here as readers will see it." }));
    return;
  }
  // The text's HTML comes from the server (the browser renders no Markdown); until it is back, plain text.
  const html = previewHTML.text === body.text ? previewHTML.html : undefined;
  const article = renderUpdate({ id: "preview", ...body, html, image: body.photo ? undefined : body.image,
    happened_at: new Date().toISOString(), tags: body.tags ?? [], author: me ? { name: me.name } : undefined }, ctx);
  article.removeAttribute("id");
  preview.replaceChildren(article);
  if (html === undefined && body.text) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(fetchPreviewHTML, 200);
  }
}

let previewHTML = { text: "", html: "" };
let previewTimer = null;
let previewSeq = 0;

async function fetchPreviewHTML() {
  const { text } = draftBody();
  const seq = ++previewSeq;
  const result = await auth.call("POST", `/desk/events/${config.event}/preview-update`, { text }).catch(() => null);
  if (seq !== previewSeq || !result?.ok) return; // a newer one is on its way, or offline: plain text stays
  previewHTML = { text, html: result.body.html };
  renderPreview();
}

function loadIntoComposer(body) {
  fields.text.value = body.text ?? "";
  fields.session.value = body.session ?? "";
  sessionChosen = true;
  fields.key.checked = Boolean(body.key);
  fields.quote.value = body.quote?.text ?? "";
  fields.speaker.value = body.quote?.speaker ?? "";
  fields.imageUrl.value = body.image?.url ?? "";
  fields.caption.value = body.image?.caption ?? "";
  fields.alt.value = body.image?.alt ?? "";
  fields.tags.value = (body.tags ?? []).join(", ");
  $("extras").open = Boolean(body.quote || body.image || body.tags?.length);
  renderPreview();
  fields.text.focus();
}

function clearComposer() {
  for (const name of ["text", "quote", "speaker", "imageUrl", "caption", "alt", "tags"]) fields[name].value = "";
  fields.key.checked = false;
  if (!sessionChosen) fields.session.value = runningSession();
  $("composer-error").hidden = true;
  choosePhoto(null);
  renderPreview();
}

async function post() {
  const body = draftBody();
  const error = $("composer-error");
  if (!body.text && !body.quote && !body.image) {
    error.textContent = "Write some text, a quote, or add a photo first.";
    error.hidden = false;
    fields.text.focus();
    return;
  }
  error.hidden = true;
  body.happened_at = new Date().toISOString(); // the moment Post was pressed, whenever it reaches the server
  const key = randomKey();
  if (chosenPhoto) {
    try {
      await photos.put(key, chosenPhoto); // kept before the post is, so a queued post always has its photo
    } catch {
      error.textContent = "This browser could not keep the photo (storage full or private mode); try a smaller one.";
      error.hidden = false;
      return;
    }
  }
  outbox.add(body, key);
  clearComposer();
  fields.text.focus();
}

form.addEventListener("submit", (e) => { e.preventDefault(); post(); });
form.addEventListener("input", renderPreview);
form.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); post(); }
});
fields.session.addEventListener("change", () => { sessionChosen = true; fillSpeakers(); renderPreview(); });
$("clear").addEventListener("click", () => { clearComposer(); fields.text.focus(); });

// --- outbox view ---

const STATE_LABEL = { pending: "Waiting to send", sending: "Sending…", refused: "Refused", sent: "Sent" };

function outboxItem(item) {
  const state = item.state === "pending" && item.sending ? "sending" : item.state;
  const when = item.body.happened_at;
  const li = el("li", { class: `outbox-item is-${state}`, "data-key": item.key, "data-state": state },
    el("p", { class: "outbox-head" }, el("span", { class: `badge badge-${state}`, text: STATE_LABEL[state] }), " ",
      el("time", { datetime: when, text: ctx.clock.time(when) })),
    el("p", { class: "outbox-text", text: headline(item.body) }));
  if (item.state === "refused") {
    li.append(el("p", { class: "problem", text: `The server refused it: ${item.problem}` }),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", text: "Edit and post again",
          onclick: () => { outbox.remove(item.key); loadIntoComposer(item.body); } }),
        el("button", { type: "button", class: "secondary danger", text: "Discard",
          onclick: () => outbox.remove(item.key) })));
  } else if (item.state === "pending" && item.problem && !item.sending) {
    li.append(el("p", { class: "hint", text: `Not sent yet (${item.problem}); retrying automatically.` }));
  } else if (item.state === "sent" && item.update) {
    li.querySelector(".outbox-text").append(" ", el("a", { href: `${config.readerUrl}#u-${item.update.id}`, text: "View" }));
  }
  return li;
}

function renderOutbox() {
  const items = outbox.load().filter((i) => i.author === me?.name || !me);
  const waiting = items.filter((i) => i.state === "pending").length;
  const refused = items.filter((i) => i.state === "refused").length;
  $("outbox").replaceChildren(...items.map(outboxItem), ...outbox.sent.map(outboxItem));
  const parts = [];
  if (waiting) parts.push(`${waiting} waiting to send${navigator.onLine === false ? " (offline)" : ""}`);
  if (refused) parts.push(`${refused} refused`);
  $("outbox-summary").textContent = parts.length ? parts.join(", ") + "." : "Nothing waiting to be sent.";
  $("send-now").hidden = waiting === 0;
  const others = outbox.load().filter((i) => me && i.author !== me.name);
  if (others.length) $("outbox-summary").textContent += ` ${others.length} kept for another reporter's sign-in.`;
}

outbox.onChange = renderOutbox;
$("send-now").addEventListener("click", () => outbox.flush({ now: true }));
window.addEventListener("online", () => { renderOutbox(); outbox.flush({ now: true }); });
window.addEventListener("offline", renderOutbox);
window.addEventListener("storage", (e) => { if (e.key === outbox.storageKey) renderOutbox(); });
document.addEventListener("visibilitychange", () => { if (!document.hidden) outbox.flush(); });

// --- own recent updates and the live feed ---

const mine = new Map(); // id -> update
const feedEl = $("feed");

function renderMine() {
  const list = [...mine.values()].sort((a, b) => b.received_at.localeCompare(a.received_at)).slice(0, 20);
  const existing = new Map([...$("mine").children].map((li) => [li.dataset.id, li]));
  $("mine").replaceChildren(...list.map((u) => {
    const li = existing.get(u.id);
    if (li && li.dataset.version === String(u.version) && !li.classList.contains("is-stale")) return li;
    if (li && li.querySelector("form")) return li; // being edited: leave it alone
    return mineItem(u);
  }));
  $("mine-empty").hidden = list.length > 0;
}

function mineItem(update) {
  const li = el("li", { class: "mine-item", "data-id": update.id, "data-version": String(update.version) },
    el("p", { class: "outbox-head" }, el("time", { datetime: update.happened_at, text: ctx.clock.time(update.happened_at) }),
      update.key ? el("span", { class: "badge badge-key", text: "Key" }) : null),
    el("p", { class: "outbox-text", text: headline(update) }));
  let armed = null;
  const del = el("button", { type: "button", class: "secondary danger", text: "Delete", "aria-label": `Delete: ${headline(update)}` });
  del.addEventListener("click", async () => {
    if (!armed) {
      del.textContent = "Confirm delete";
      del.setAttribute("aria-label", `Confirm delete: ${headline(update)}`);
      armed = setTimeout(() => {
        armed = null;
        del.textContent = "Delete";
        del.setAttribute("aria-label", `Delete: ${headline(update)}`);
      }, 5000);
      return;
    }
    clearTimeout(armed);
    const result = await auth.call("DELETE", `/api/events/${config.event}/updates/${update.id}`).catch(() => null);
    if (result?.status === 204 || result?.status === 404) { mine.delete(update.id); renderMine(); announce("Deleted."); }
    else showProblem(li, result ? result.detail : "offline: try again when the connection is back");
  });
  const edit = el("button", { type: "button", class: "secondary", text: "Edit", "aria-label": `Edit: ${headline(update)}`,
    onclick: () => editForm(li, update) });
  li.append(el("div", { class: "actions" }, edit, del));
  return li;
}

function showProblem(li, detail) {
  li.querySelector(".problem")?.remove();
  li.append(el("p", { class: "problem", role: "alert", text: detail }));
}

function editForm(li, update) {
  const id = `edit-${update.id}`;
  const text = el("textarea", { id, rows: "4" });
  text.value = update.text ?? "";
  const key = el("input", { type: "checkbox", id: `${id}-key` });
  key.checked = Boolean(update.key);
  const form = el("form", { class: "edit-form" },
    el("label", { for: id, text: "Edit the text" }), text,
    el("label", { class: "toggle" }, key, el("span", { text: " Key moment" })),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary", text: "Save" }),
      el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => { li.replaceWith(mineItem(update)); } })));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = await auth.call("PATCH", `/api/events/${config.event}/updates/${update.id}`,
      { text: text.value, key: key.checked, version: update.version }).catch(() => null);
    if (result?.ok) { mine.set(update.id, result.body); li.replaceWith(mineItem(result.body)); announce("Saved."); return; }
    if (result?.status === 409) {
      const fresh = await auth.call("GET", `/api/events/${config.event}/updates/${update.id}`).catch(() => null);
      if (fresh?.ok) { update = fresh.body; mine.set(update.id, update); }
      showProblem(li, "Someone changed this update meanwhile; your text is kept, check it and save again.");
      return;
    }
    showProblem(li, result ? result.detail : "offline: try again when the connection is back");
  });
  form.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); } });
  li.replaceChildren(form);
  text.focus();
}

function onOwnUpdate(update) {
  if (!me || update.author?.name !== me.name) return;
  const known = mine.get(update.id);
  if (known && known.version >= update.version) return;
  mine.set(update.id, update);
  renderMine();
}

function showFeedUpdate(update) {
  const current = document.getElementById(`u-${update.id}`);
  if (current && Number(current.dataset.version) >= Number(update.version ?? 1)) return;
  const article = renderUpdate(update, ctx);
  if (me && update.author?.name === me.name) article.classList.add("is-mine");
  if (current) { current.replaceWith(article); return; }
  const later = [...feedEl.children].find((a) => (a.dataset.received ?? "") < update.received_at);
  feedEl.insertBefore(article, later ?? null);
  $("feed-empty").hidden = true;
}

function apply(message) {
  const data = message.data ?? {};
  switch (message.type) {
    case "update":
    case "edit":
      showFeedUpdate(data);
      onOwnUpdate(data);
      return;
    case "delete":
      document.getElementById(`u-${data.id}`)?.remove();
      if (mine.delete(data.id)) renderMine();
      $("feed-empty").hidden = feedEl.children.length > 0;
      return;
    case "session": {
      const index = config.sessions.findIndex((s) => s.id === data.id);
      if (data.deleted) { if (index >= 0) config.sessions.splice(index, 1); delete ctx.sessions[data.id]; }
      else if (data.id && data.title) {
        const session = { ...data, speakers: data.speakers ?? [] };
        if (index >= 0) config.sessions[index] = session; else config.sessions.push(session);
        ctx.sessions[data.id] = data.title;
      }
      fillSessions();
      return;
    }
    default:
  }
}

async function loadList() {
  const result = await auth.call("GET", `/api/events/${config.event}/updates?limit=200`);
  if (!result.ok) throw new Error(result.detail);
  const updates = result.body.updates;
  feedEl.replaceChildren();
  for (const u of updates) { showFeedUpdate(u); if (me && u.author?.name === me.name) mine.set(u.id, u); }
  renderMine();
  $("feed-empty").hidden = updates.length > 0;
  return result.body.position; // the log position read before the list: the feed resumes from there
}

/** loadList, retried with backoff (up to 30 s between tries) at most ``tries`` times; the log position or null. */
async function loadListRetrying(tries) {
  for (let attempt = 0; attempt < tries; attempt += 1) {
    try { return (await loadList()) ?? null; } catch { /* retried below */ }
    if (attempt + 1 < tries) await new Promise((r) => { setTimeout(r, backoffDelay(attempt, { baseMs: 500, capMs: BACKOFF_CAP_MS })); });
  }
  return null;
}

const STATUS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

async function start(who) {
  me = who;
  const stale = outbox.load();
  if (stale.some((i) => i.sending)) outbox.save(stale.map((i) => ({ ...i, sending: false }))); // a reload cut a send short
  fillSessions();
  renderPreview();
  renderOutbox();
  outbox.flush({ now: true }); // a fresh page tries what is waiting at once, not after the last page's backoff
  const after = await loadListRetrying(5);
  const feed = new LiveFeed({
    event: config.event,
    after,
    onMessage: apply,
    onStatus: (state) => {
      const status = $("status");
      status.hidden = false;
      status.dataset.state = state;
      status.textContent = STATUS[state] ?? state;
    },
    onResync: () => loadListRetrying(Infinity), // LiveFeed holds live messages until it is done
  });
  feed.start();
  window.addEventListener("online", () => feed.nudge());
  window.plenaryDesk = { feed, outbox, config }; // for tests and debugging; holds no token
  fields.text.focus();
}

signInFlow(auth, start, { role: "reporter" });
keepShellOffline();
