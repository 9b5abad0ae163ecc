// Plenary desk service worker: keeps the desk's shell (its pages and /static/ files) so a desk opens and reloads
// without a connection. Network first, the cached copy only when the network fails, so an online desk is never
// stale. The API, the feeds and the sign-in check are never cached: the outbox (localStorage and IndexedDB)
// keeps posts until the server takes them.

const CACHE = "plenary-desk-v1";

const isShell = (url, request) =>
  url.origin === self.location.origin &&
  ((request.mode === "navigate" && url.pathname.startsWith("/desk/events/")) || url.pathname.startsWith("/static/"));

self.addEventListener("install", () => { self.skipWaiting(); });
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

// A page that opened before this worker controlled it names what it loaded, so the first visit is kept too.
self.addEventListener("message", (event) => {
  if (event.data?.type !== "cache" || !Array.isArray(event.data.urls)) return;
  const urls = event.data.urls.filter((u) => typeof u === "string" && isShell(new URL(u), { mode: u.includes("/desk/") ? "navigate" : "" }));
  event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(urls.map(async (u) => {
    try {
      const response = await fetch(u, { credentials: "omit", cache: "no-cache" });
      if (response.ok) await cache.put(u, response);
    } catch { /* offline already: kept at the next visit */ }
  }))));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const kept = await cache.match(request, { ignoreVary: true, ignoreSearch: request.mode === "navigate" });
    if (kept) return kept;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (isShell(new URL(request.url), request)) event.respondWith(networkFirst(request));
});
