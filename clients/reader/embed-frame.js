// Inside a news site's iframe: tell the parent page our height (so the frame grows with the feed) and follow
// the theme the parent sends. The height carries nothing private, so it is posted to any parent ("*"); the
// parent's embed.js checks that it comes from this frame and this origin.

const root = document.documentElement;
const content = document.getElementById("embed");

function postHeight() {
  if (parent === window || !content) return;
  const style = getComputedStyle(document.body);
  const height = Math.ceil(content.getBoundingClientRect().height + parseFloat(style.marginTop) + parseFloat(style.marginBottom));
  parent.postMessage({ type: "plenary:height", height }, "*");
}

addEventListener("message", (e) => {
  if (e.source !== parent || e.data?.type !== "plenary:theme") return;
  const theme = e.data.theme;
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
});

if (content) new ResizeObserver(postHeight).observe(content);
postHeight();
