// Share links on updates: the Web Share API where the browser has one (phones), else copy the link.
// Without JavaScript the link simply opens the update's own page.

function say(link, text) {
  const announcer = document.getElementById("announcer");
  if (announcer) announcer.textContent = text;
  const before = link.textContent;
  link.textContent = text;
  setTimeout(() => { link.textContent = before; }, 2000);
}

document.addEventListener("click", async (e) => {
  const link = e.target instanceof Element ? e.target.closest("a.update-share") : null;
  if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  const url = new URL(link.getAttribute("href"), location.href).href;
  const title = link.closest("article")?.dataset.headline || document.title;
  if (navigator.share) {
    try { await navigator.share({ title, url }); return; } catch (err) { if (err?.name === "AbortError") return; }
  }
  try {
    await navigator.clipboard.writeText(url);
    say(link, "Link copied");
  } catch {
    location.href = url; // no clipboard either: open the update's page, whose address can be copied
  }
});
