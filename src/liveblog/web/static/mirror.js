// In an exported copy (liveblog export): look at the copy's own entries.json now and then, and
// reload when the blog has moved on (new, corrected or retracted entries). Relative URLs only,
// so the copy works on any host and under any path.
(function () {
  "use strict";
  var main = document.querySelector("main[data-seq]");
  if (!main || !window.fetch) return;
  var seq = parseInt(main.dataset.seq, 10) || 0;
  // Once a minute; `?poll=SECONDS` in the address asks for another pace (tests, a newsroom's
  // own monitor), never faster than once a second.
  var asked = parseFloat(new URLSearchParams(window.location.search).get("poll"));
  var every = asked >= 1 ? asked * 1000 : 60000;
  function look() {
    fetch("entries.json", { cache: "no-cache" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.seq !== seq) window.location.reload();
        else setTimeout(look, every);
      }, function () { setTimeout(look, every); });
  }
  setTimeout(look, every);
})();
