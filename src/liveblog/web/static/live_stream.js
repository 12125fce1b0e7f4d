// The live stream client every live page shares: the reader's blog page and the desk. It opens
// the blog's stream right after the seq the page shows, hands the page each event once and in
// order, skips the redacted copies a replay carries of entries retracted since, reloads the
// page (at most once in 30 s) when the server says the position is unusable, stops for good
// when the blog ends, and retries with backoff and jitter when the server refuses outright.
(function () {
  "use strict";

  var TYPES = ["entry-published", "entry-updated", "entry-retracted", "blog-updated", "blog-ended"];

  function reloadOnce() {
    var last = parseInt(sessionStorage.getItem("liveblog-resync") || "0", 10);
    if (Date.now() - last > 30000) {
      sessionStorage.setItem("liveblog-resync", String(Date.now()));
      location.reload();
    }
  }

  // options.slug, options.seq: the blog and the seq the page shows.
  // options.on: {"entry-published": function (data) {...}, ...}, one handler per event type.
  // options.state (optional): told "live", "reconnecting", "closed" or "ended".
  // options.resync (optional): what to do when the position is unusable (default: reload).
  // options.live (optional): whether the blog is still live, so a refusal is worth a retry.
  // Returns {close: function}.
  function open(options) {
    var seq = options.seq || 0;
    var source = null;
    var stopped = false;
    var retryDelay = 1000;
    var timer = null;

    function state(name) {
      if (options.state) options.state(name);
    }

    function stop() {
      stopped = true;
      clearTimeout(timer);
      if (source) source.close();
      source = null;
    }

    function handle(type, event) {
      var id = parseInt(event.lastEventId, 10);
      if (!isNaN(id)) {
        if (id <= seq) return; // seen already (e.g. the page was rendered after it)
        seq = id;
      }
      // Closed before the server closes the stream, so the browser does not reconnect.
      if (type === "blog-ended") stop();
      var data = JSON.parse(event.data);
      // A replay's copy of an event about an entry retracted since: its text is gone, and
      // the retraction itself follows in the same replay.
      if (!(data.entry && data.entry.redacted) && options.on[type]) options.on[type](data);
      if (type === "blog-ended") state("ended");
    }

    function connect() {
      if (stopped) return;
      // On its own reconnects the browser sends Last-Event-ID, which the server prefers to
      // this parameter.
      var url = "/api/blogs/" + encodeURIComponent(options.slug) + "/stream?last_event_id=" + seq;
      var current = source = new EventSource(url);
      TYPES.forEach(function (type) {
        current.addEventListener(type, function (event) { handle(type, event); });
      });
      current.addEventListener("resync", function () {
        stop();
        (options.resync || reloadOnce)();
      });
      current.addEventListener("open", function () {
        retryDelay = 1000;
        state("live");
      });
      current.addEventListener("error", function () {
        if (current !== source) return;
        if (current.readyState !== EventSource.CLOSED) {
          state("reconnecting"); // the browser retries by itself
          return;
        }
        // The server refused outright (or said 204: nothing more to come). Retry with
        // backoff and jitter, but only while the blog is live.
        current.close();
        source = null;
        state("closed");
        if (!stopped && (!options.live || options.live())) {
          timer = setTimeout(connect, retryDelay + Math.random() * retryDelay);
          retryDelay = Math.min(retryDelay * 2, 60000);
        }
      });
    }

    connect();
    return { close: stop };
  }

  window.LiveblogStream = { open: open };
})();
