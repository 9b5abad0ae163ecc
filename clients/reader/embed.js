// Plenary embed for a news site's article page. Paste where the live blog should appear:
//   <script src="https://live.example/static/embed.js" data-event="EVENT-ID" async></script>
// It inserts an iframe of /events/EVENT-ID/embed after itself, grows it with the feed (the frame posts its
// height), and passes on the host page's light/dark preference: data-theme="light"|"dark" on the script, else
// the page's CSS color-scheme when it is plainly light or dark, else the reader's system preference.
(() => {
  const script = document.currentScript;
  if (!script || !script.src) return;
  const origin = new URL(script.src).origin;
  const event = script.dataset.event ?? "";
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(event)) {
    console.warn("plenary embed: data-event must be the event's id");
    return;
  }
  const dark = matchMedia("(prefers-color-scheme: dark)");
  const theme = () => {
    const chosen = script.dataset.theme;
    if (chosen === "light" || chosen === "dark") return chosen;
    const scheme = getComputedStyle(document.documentElement).colorScheme.trim();
    if (scheme === "light" || scheme === "dark") return scheme;
    return dark.matches ? "dark" : "light";
  };
  const frame = document.createElement("iframe");
  frame.src = `${origin}/events/${event}/embed?theme=${theme()}`;
  frame.title = script.dataset.title || "Live blog";
  frame.className = "plenary-embed";
  frame.allow = "web-share; clipboard-write"; // the share links on updates
  frame.style.display = "block";
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.height = "480px";
  script.after(frame);

  addEventListener("message", (e) => {
    if (e.origin !== origin || e.source !== frame.contentWindow || e.data?.type !== "plenary:height") return;
    const height = Number(e.data.height);
    if (Number.isFinite(height)) frame.style.height = `${Math.min(Math.max(Math.round(height), 80), 100000)}px`;
  });
  let sent = theme();
  const follow = () => {
    const now = theme();
    if (now === sent) return;
    sent = now;
    frame.contentWindow?.postMessage({ type: "plenary:theme", theme: now }, origin);
  };
  dark.addEventListener("change", follow);
  new MutationObserver(follow).observe(document.documentElement, { attributes: true });
})();
