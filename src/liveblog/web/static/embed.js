// The one-line partner embed: <script src="https://live.example.org/static/embed.js"
// data-blog="SLUG" async></script>. It puts the blog's embed page in a frame right after the
// script tag and lets the frame set its own height (it posts it; only that origin is heard).
(function () {
  "use strict";
  var scripts = document.querySelectorAll("script[data-blog]");
  Array.prototype.forEach.call(scripts, function (script) {
    if (script.dataset.liveblogDone) return;
    script.dataset.liveblogDone = "1";
    var origin = new URL(script.src, document.baseURI).origin;
    var slug = script.dataset.blog;
    var frame = document.createElement("iframe");
    frame.src = origin + "/blogs/" + encodeURIComponent(slug) + "/embed";
    frame.title = script.dataset.title || "Live blog";
    frame.loading = "lazy";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = (parseInt(script.dataset.height, 10) || 600) + "px";
    frame.setAttribute("scrolling", "no");
    script.parentNode.insertBefore(frame, script.nextSibling);
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      var data = event.data || {};
      if (data.type === "liveblog:height" && data.slug === slug && data.height > 0) {
        frame.style.height = Math.ceil(data.height) + "px";
      }
    });
  });
})();
