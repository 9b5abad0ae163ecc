// Plenary editor desk: compile the day's post, edit its Markdown beside a preview that traces each paragraph to
// its source updates, save with the version read (a stale save shows both versions), publish; pin updates and
// manage the day's sessions. The preview arrives as JSON nodes and is built with createElement, never parsed.

import { clock, headline, renderUpdate } from "./reader.js";
import { $, Auth, announcer, el, localParts, readConfig, signInFlow, zonedIso, keepShellOffline } from "./desk-common.js";

const config = readConfig();
const ctx = { clock: clock(config.timezone), multiDay: config.multiDay, sessions: {} };
for (const s of config.sessions) ctx.sessions[s.id] = s.title;
const announce = announcer($("announcer"));
const auth = new Auth();
const base = `/api/events/${encodeURIComponent(config.event)}`;
const postPath = `${base}/days/${config.day}/reflections`;
const TAGS = new Set("a blockquote br code del em figcaption figure h1 h2 h3 h4 h5 h6 hr img li ol p pre s strong ul".split(" "));
const ATTRS = new Set(["href", "src", "alt", "title", "rel"]);

let post = null; // the draft as last read or saved: {version, title, markdown, status, ...}
let dirty = false;
let previewTimer = null;
let previewSeq = 0;

const markdownEl = $("markdown");
const titleEl = $("post-title");

function problem(detail) {
  const node = $("post-error");
  node.textContent = detail || "";
  node.hidden = !detail;
}

function statusText() {
  if (!post) return "No draft for this day yet. Compile one from the day's updates.";
  if (post.status === "compiling") return "Compiling the day's updates…";
  const parts = [`Version ${post.version}`];
  parts.push(post.status === "published" ? `published ${post.published_at ? ctx.clock.time(post.published_at) : ""}`.trim() : "draft");
  if (post.edited) parts.push("edited by an editor");
  if (dirty) parts.push("unsaved changes");
  return parts.join(" · ");
}

function refresh() {
  $("post-status").textContent = statusText();
  const ready = post && post.status !== "compiling";
  $("compile").textContent = post ? "Recompile" : "Compile";
  $("compile").disabled = post?.status === "compiling";
  $("save").disabled = !ready || !dirty;
  $("publish").disabled = !ready;
  $("open-post").hidden = !(post && (post.status === "published" || post.published_at));
  markdownEl.readOnly = !ready;
  titleEl.readOnly = !ready;
}

function load(fresh) {
  post = fresh;
  titleEl.value = fresh?.title ?? "";
  markdownEl.value = fresh?.markdown ?? "";
  dirty = false;
  refresh();
  schedulePreview(0);
  showLeftOut();
}

// --- what the compiler folded or left out (the draft's merged and dropped), with "Put it back" ---

const MARKER = /^<!--\s*(?:[A-Za-z][A-Za-z0-9_-]*\s+)?updates:\s*([^<>]*?)\s*-->\s*$/gm;

function markedIds(markdown) {
  const ids = new Set();
  for (const match of markdown.matchAll(MARKER)) for (const id of match[1].split(/[\s,]+/)) if (id) ids.add(id);
  return ids;
}

/** Where a put-back paragraph goes: after the block traced to ``into``, else before the closing and byline. */
function insertAt(markdown, into) {
  const blocks = markdown.replace(/\n+$/, "").split("\n\n");
  let at = blocks.length - 2;
  if (into) {
    const found = blocks.findIndex((b) => { const m = b.match(/^<!--.*updates:\s*([^<>]*?)\s*-->/); return m && m[1].split(/[\s,]+/).includes(into); });
    if (found >= 0) at = found + 1;
  }
  return Math.max(0, at);
}

async function putBack(id, into) {
  const update = await fetchUpdate(id);
  if (update.missing) { announce(`Update ${id} was deleted.`); return; }
  const text = [update.text, update.quote ? `> ${update.quote.text}` : ""].filter(Boolean).join("\n\n");
  const blocks = markdownEl.value.replace(/\n+$/, "").split("\n\n");
  blocks.splice(insertAt(markdownEl.value, into), 0, `<!-- updates: ${id} -->\n${text}`);
  markdownEl.value = blocks.join("\n\n") + "\n";
  dirty = true;
  refresh();
  schedulePreview(0);
  showLeftOut();
  announce(`Put back: ${headline(update)}`);
}

async function showLeftOut() {
  const box = $("left-out");
  const list = $("left-out-list");
  const present = markedIds(markdownEl.value);
  const items = [
    ...(post?.merged ?? []).flatMap((m) => m.updates.map((id) => ({ id, into: m.into, why: null }))),
    ...(post?.dropped ?? []).map((d) => ({ id: d.update, into: null, why: d.why })),
  ].filter((item) => !present.has(item.id));
  box.hidden = items.length === 0;
  const rows = await Promise.all(items.map(async (item) => {
    const update = await fetchUpdate(item.id);
    const why = item.why ?? `said again in: ${headline(await fetchUpdate(item.into))}`;
    const button = el("button", { type: "button", class: "secondary", text: "Put it back",
      "aria-label": `Put it back: ${update.missing ? item.id : headline(update)}` });
    button.addEventListener("click", () => putBack(item.id, item.into));
    return el("li", { class: "left-out-item", "data-update": item.id },
      el("p", { text: update.missing ? `Update ${item.id} (deleted)` : headline(update) }),
      el("p", { class: "hint", text: why }), button);
  }));
  list.replaceChildren(...rows);
}

// --- preview: the server renders (the same code the post page uses); we build the nodes ---

function build(node, parent) {
  if (typeof node === "string") { parent.append(node); return; }
  if (!node || !TAGS.has(node.t)) return;
  const element = document.createElement(node.t);
  for (const [name, value] of Object.entries(node.a ?? {})) {
    if (name === "data-updates") element.dataset.updates = value;
    else if (name === "data-block") element.dataset.block = value;
    else if (ATTRS.has(name) && !((name === "href" || name === "src") && !/^(https?:|mailto:)/i.test(value))) element.setAttribute(name, value);
  }
  if (node.t === "a") element.rel = "nofollow noopener";
  for (const child of node.c ?? []) build(child, element);
  if (element.dataset.updates) {
    element.classList.add("traced");
    element.tabIndex = 0;
    element.setAttribute("role", "button");
    element.setAttribute("aria-label", `${element.textContent.slice(0, 80)} — show its source updates`);
    element.title = "Show the updates this came from";
  }
  parent.append(element);
}

function schedulePreview(delay = 350) {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(renderPreview, delay);
}

async function renderPreview() {
  const seq = ++previewSeq;
  const preview = $("preview");
  if (!markdownEl.value.trim()) { preview.replaceChildren(el("p", { class: "hint", text: "Nothing to preview yet." })); return; }
  const result = await auth.call("POST", `/desk/events/${config.event}/preview`, { markdown: markdownEl.value }).catch(() => null);
  if (seq !== previewSeq) return; // a newer preview is on its way
  if (!result?.ok) { preview.replaceChildren(el("p", { class: "problem", text: result ? result.detail : "Preview unavailable offline." })); return; }
  const fragment = document.createDocumentFragment();
  if (titleEl.value.trim()) fragment.append(el("h1", { class: "post-title", text: titleEl.value.trim() }));
  for (const node of result.body.nodes) build(node, fragment);
  preview.replaceChildren(fragment);
}

// --- sources of a paragraph, with pin and unpin ---

const updateCache = new Map();

async function fetchUpdate(id) {
  if (updateCache.has(id)) return updateCache.get(id);
  const result = await auth.call("GET", `${base}/updates/${encodeURIComponent(id)}`).catch(() => null);
  const value = result?.ok ? result.body : { id, missing: true };
  if (result?.ok) updateCache.set(id, value);
  return value;
}

function sourceCard(update) {
  if (update.missing) return el("p", { class: "hint", text: `Update ${update.id} was deleted.` });
  const article = renderUpdate(update, ctx);
  article.removeAttribute("id");
  const pin = el("button", { type: "button", class: "secondary", text: update.pinned ? "Unpin" : "Pin to the top",
    "aria-label": `${update.pinned ? "Unpin" : "Pin"}: ${headline(update)}` });
  pin.addEventListener("click", () => setPinned(update, !update.pinned));
  article.append(el("div", { class: "actions" }, pin));
  return article;
}

let shownBlock = null;

async function showSources(block) {
  shownBlock = block;
  const ids = (block.dataset.updates ?? "").split(/\s+/).filter(Boolean);
  document.querySelectorAll("#preview .traced.is-selected").forEach((b) => b.classList.remove("is-selected"));
  block.classList.add("is-selected");
  const panel = $("sources");
  panel.hidden = false;
  $("sources-title").textContent = ids.length === 1 ? "Source: 1 update" : `Sources: ${ids.length} updates`;
  $("sources-list").replaceChildren(el("p", { class: "hint", text: "Loading…" }));
  const updates = await Promise.all(ids.map(fetchUpdate));
  if (shownBlock !== block) return;
  $("sources-list").replaceChildren(...updates.map(sourceCard));
  $("sources-title").focus();
}

$("preview").addEventListener("click", (e) => {
  if (e.target.closest("a")) return;
  const block = e.target.closest(".traced");
  if (block) showSources(block);
});
$("preview").addEventListener("keydown", (e) => {
  const block = e.target.closest?.(".traced");
  if (block && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); showSources(block); }
});
$("sources-close").addEventListener("click", () => {
  $("sources").hidden = true;
  shownBlock?.focus();
});

async function setPinned(update, pinned) {
  const result = await auth.call("PATCH", `${base}/updates/${update.id}`, { pinned }).catch(() => null);
  if (!result?.ok) { problem(result ? result.detail : "Offline: pinning needs the connection."); return; }
  updateCache.clear();
  announce(pinned ? "Pinned." : "Unpinned.");
  await showPinned();
  if (shownBlock) showSources(shownBlock);
}

async function showPinned() {
  // The event's pin, whichever day it is from (the event names it; a delete racing this read shows none).
  const event = await auth.call("GET", base).catch(() => null);
  const id = event?.ok ? event.body.pinned : null;
  const result = id ? await auth.call("GET", `${base}/updates/${id}`).catch(() => null) : null;
  const pinned = result?.ok && result.body.pinned ? result.body : null;
  $("pinned").replaceChildren(pinned ? sourceCard(pinned) : el("p", { class: "hint", text: "Nothing is pinned." }));
}

// --- compile, save, conflicts, publish ---

async function readPost() {
  const result = await auth.call("GET", postPath);
  if (result.status === 404) return null;
  if (!result.ok) throw new Error(result.detail);
  return result.body;
}

async function waitForCompile() {
  const deadline = Date.now() + 120000;
  for (let delay = 300; Date.now() < deadline; delay = Math.min(2000, delay * 1.5)) {
    await new Promise((r) => { setTimeout(r, delay); });
    const fresh = await readPost().catch(() => post);
    if (fresh && fresh.status !== "compiling") { load(fresh); announce("The draft is ready."); return; }
  }
  problem("The compile is taking long; reload the page later to see it.");
}

async function compile(replace = false) {
  problem(null);
  $("replace-confirm").hidden = true;
  const result = await auth.call("POST", `${postPath}`, { replace }).catch(() => null);
  if (result?.status === 409) {
    $("replace-confirm").hidden = false;
    $("replace-no").focus();
    return;
  }
  if (result?.status !== 202) { problem(result ? result.detail : "Offline: compiling needs the connection."); return; }
  post = { ...(post ?? {}), status: "compiling" };
  refresh();
  await waitForCompile();
}

async function save({ over = null } = {}) {
  problem(null);
  const version = over ?? post.version;
  const body = { markdown: markdownEl.value, version };
  if (titleEl.value.trim()) body.title = titleEl.value.trim();
  const result = await auth.call("PUT", postPath, body).catch(() => null);
  if (result?.ok) {
    $("conflict").hidden = true;
    const mine = { markdown: markdownEl.value, title: titleEl.value };
    load(result.body);
    if (result.body.markdown !== mine.markdown) schedulePreview(0);
    announce(`Saved as version ${result.body.version}.`);
    return true;
  }
  if (result?.status === 409 && result.body?.field === "version") {
    const theirs = await readPost().catch(() => null);
    if (theirs) showConflict(theirs);
    return false;
  }
  problem(result ? result.detail : "Offline: your text stays here; save again when the connection is back.");
  return false;
}

let theirs = null;

/** Show ``text`` line by line in ``pre``, marking the lines the other version lacks; scroll to the first. */
function showLines(pre, text, other) {
  const others = new Set(other.split("\n"));
  const lines = text.split("\n").map((line) => el("span", { class: others.has(line) ? "line" : "line is-changed",
    text: `${line}\n` }));
  pre.replaceChildren(...lines);
  const first = pre.querySelector(".is-changed");
  pre.scrollTop = first ? Math.max(0, first.offsetTop - 40) : 0; // the pre is the offsetParent
}

function showConflict(fresh) {
  theirs = fresh;
  $("conflict").hidden = false;
  showLines($("conflict-mine"), markdownEl.value, fresh.markdown ?? "");
  showLines($("conflict-theirs"), fresh.markdown ?? "", markdownEl.value);
  $("conflict-theirs-title").textContent = `Their version (version ${fresh.version})`;
  $("keep-mine").textContent = `Keep mine (save over version ${fresh.version})`;
  $("conflict-title").setAttribute("tabindex", "-1");
  $("conflict-title").focus();
  announce("Someone else saved this post meanwhile. Compare the versions.");
}

$("keep-mine").addEventListener("click", () => { if (theirs) save({ over: theirs.version }); });
$("take-theirs").addEventListener("click", () => {
  if (!theirs) return;
  load(theirs);
  $("conflict").hidden = true;
  markdownEl.focus();
});

async function publish() {
  problem(null);
  if (dirty && !(await save())) return;
  const result = await auth.call("POST", `${postPath}/publish`).catch(() => null);
  if (!result?.ok) { problem(result ? result.detail : "Offline: publishing needs the connection."); return; }
  load(result.body);
  announce("Published.");
  $("open-post").focus();
}

$("embed-copy").addEventListener("click", async () => {
  const code = $("embed-code");
  try {
    await navigator.clipboard.writeText(code.value);
  } catch {
    code.select(); // no clipboard permission: select it for Ctrl+C
    return;
  }
  announce("Embed code copied.");
});

$("compile").addEventListener("click", () => compile(false));
$("replace-yes").addEventListener("click", () => compile(true));
$("replace-no").addEventListener("click", () => { $("replace-confirm").hidden = true; markdownEl.focus(); });
$("save").addEventListener("click", () => save());
$("publish").addEventListener("click", publish);
for (const field of [markdownEl, titleEl]) {
  field.addEventListener("input", () => { dirty = true; refresh(); schedulePreview(); });
}
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s" && !$("desk").hidden) {
    e.preventDefault();
    if (!$("save").disabled) save();
  }
});
window.addEventListener("beforeunload", (e) => { if (dirty) e.preventDefault(); });

// --- the day's sessions ---

let editing = null; // the session id being edited, or null when adding

function personLine(p) {
  return [p.name, p.role, p.organisation].filter(Boolean).join(", ");
}

async function loadSessions() {
  const result = await auth.call("GET", `${base}/sessions?day=${config.day}`).catch(() => null);
  if (!result?.ok) return;
  const sessions = result.body.sessions;
  for (const s of sessions) ctx.sessions[s.id] = s.title;
  $("sessions-list").replaceChildren(...sessions.map((s) => {
    const times = `${ctx.clock.time(s.starts_at)}${s.ends_at ? `–${ctx.clock.time(s.ends_at)}` : ""}`;
    let armed = null;
    const del = el("button", { type: "button", class: "secondary danger", text: "Delete", "aria-label": `Delete session ${s.title}` });
    const li = el("li", { class: "session-item", "data-id": s.id },
      el("p", {}, el("strong", { text: times }), " ", el("span", { text: s.title }), " ",
        el("span", { class: "hint", text: [s.kind, s.room].filter(Boolean).join(" · ") })),
      s.speakers?.length ? el("p", { class: "hint", text: s.speakers.map((p) => p.name).join(", ") }) : null,
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", text: "Edit", "aria-label": `Edit session ${s.title}`,
          onclick: () => openSessionForm(s) }), del));
    del.addEventListener("click", async () => {
      if (!armed) {
        del.textContent = "Confirm delete";
        del.setAttribute("aria-label", `Confirm delete of session ${s.title}`);
        armed = setTimeout(() => {
          armed = null;
          del.textContent = "Delete";
          del.setAttribute("aria-label", `Delete session ${s.title}`);
        }, 5000);
        return;
      }
      clearTimeout(armed);
      const gone = await auth.call("DELETE", `${base}/sessions/${s.id}`).catch(() => null);
      if (gone?.status === 204) { announce(`Deleted ${s.title}.`); loadSessions(); return; }
      li.querySelector(".problem")?.remove();
      li.append(el("p", { class: "problem", role: "alert", text: gone ? gone.detail : "Offline: try again later." }));
    });
    return li;
  }));
  if (!sessions.length) $("sessions-list").replaceChildren(el("li", { class: "hint", text: "No sessions on this day yet." }));
}

function openSessionForm(session = null) {
  editing = session?.id ?? null;
  const form = $("session-form");
  form.reset();
  $("session-form-title").textContent = session ? `Edit: ${session.title}` : "Add a session";
  $("s-id").value = session?.id ?? "";
  $("s-id").readOnly = Boolean(session);
  $("s-title").value = session?.title ?? "";
  $("s-kind").value = session?.kind ?? "other";
  $("s-start").value = session ? localParts(session.starts_at, config.timezone).time : "";
  $("s-end").value = session?.ends_at ? localParts(session.ends_at, config.timezone).time : "";
  $("s-room").value = session?.room ?? "";
  $("s-speakers").value = (session?.speakers ?? []).map(personLine).join("\n");
  $("session-error").hidden = true;
  form.hidden = false;
  (session ? $("s-title") : $("s-id")).focus();
}

$("session-add").addEventListener("click", () => openSessionForm(null));
$("session-cancel").addEventListener("click", () => { $("session-form").hidden = true; $("session-add").focus(); });
$("session-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("session-error");
  const id = $("s-id").value.trim();
  const speakers = $("s-speakers").value.split("\n").map((line) => line.split(",").map((x) => x.trim()))
    .filter((p) => p[0]).map(([name, role, ...org]) => {
      const person = { name };
      if (role) person.role = role;
      if (org.length && org.join(", ")) person.organisation = org.join(", ");
      return person;
    });
  const body = { title: $("s-title").value.trim(), kind: $("s-kind").value,
    starts_at: zonedIso(config.day, $("s-start").value, config.timezone), speakers };
  if ($("s-end").value) body.ends_at = zonedIso(config.day, $("s-end").value, config.timezone);
  if ($("s-room").value.trim()) body.room = $("s-room").value.trim();
  const existing = editing ? config.sessions.find((s) => s.id === editing) : null;
  if (existing?.hosts) body.hosts = existing.hosts;
  const result = await auth.call("PUT", `${base}/sessions/${encodeURIComponent(id)}`, body).catch(() => null);
  if (!result?.ok) { error.textContent = result ? result.detail : "Offline: try again later."; error.hidden = false; return; }
  $("session-form").hidden = true;
  announce(`Saved ${body.title}.`);
  await loadSessions();
  $("session-add").focus();
});

async function start() {
  try { load(await readPost()); } catch (err) { problem(`Could not read the post: ${err.message}`); }
  if (post?.status === "compiling") waitForCompile();
  showPinned();
  loadSessions();
  window.plenaryEditor = { config, get post() { return post; } }; // for tests and debugging; holds no token
}

signInFlow(auth, start, { role: "editor" });
keepShellOffline();
