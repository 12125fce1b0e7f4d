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
  // cache: "reload" fetches past every cache without a validator: static hosts date files to
  // the second, and a copy rewritten within the second of the last would otherwise be "not
  // modified". The page itself is fetched the same way before reloading, for the same reason.
  function look() {
    fetch("entries.json", { cache: "reload" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || data.seq === seq) return setTimeout(look, every);
        fetch(window.location.href, { cache: "reload" }).then(function () {
          window.location.reload();
        }, function () { window.location.reload(); });
      }, function () { setTimeout(look, every); });
  }
  setTimeout(look, every);
})();
