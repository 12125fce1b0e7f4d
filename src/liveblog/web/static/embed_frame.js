// Inside the embed page: tell the page that frames us how tall we are, whenever that changes,
// so the partner's frame grows and shrinks with the blog (static/embed.js listens). Only the
// height and the blog's name are sent, to the parent alone.
(function () {
  "use strict";
  if (window.parent === window) return;
  var main = document.querySelector("main[data-slug]");
  if (!main) return;
  var last = 0;
  function report() {
    var height = document.documentElement.scrollHeight;
    if (Math.abs(height - last) < 2) return;
    last = height;
    window.parent.postMessage({ type: "liveblog:height", slug: main.dataset.slug, height: height }, "*");
  }
  if (window.ResizeObserver) new ResizeObserver(report).observe(document.body);
  window.addEventListener("load", report);
  report();
})();
