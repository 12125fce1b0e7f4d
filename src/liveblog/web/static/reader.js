// Live updates for reader pages. The page is complete without this script; it only keeps the
// page current: new entries, edits, pins, retractions, key points and the end of the blog.
(function () {
  "use strict";

  // The zone stays in the label (a bare 14:05 is ambiguous to a reader abroad); the date is
  // added when it is not today's.
  var clock = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  var timeFormat = new Intl.DateTimeFormat(undefined, clock);
  var dayFormat = new Intl.DateTimeFormat(undefined, Object.assign({ day: "numeric", month: "short" }, clock));
  var yearFormat = new Intl.DateTimeFormat(undefined, Object.assign({ year: "numeric", day: "numeric", month: "short" }, clock));
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

  // Show every machine-readable time in the reader's own zone (the server wrote the newsroom's).
  function localiseTimes(root) {
    var now = new Date();
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var value = el.getAttribute("datetime");
      if (!value) return;
      var when = new Date(value);
      if (isNaN(when.getTime())) return;
      var format = when.toDateString() === now.toDateString() ? timeFormat
        : when.getFullYear() === now.getFullYear() ? dayFormat : yearFormat;
      el.textContent = format.format(when);
      el.title = fullFormat.format(when);
    });
  }

  localiseTimes(document);
  sayWhenEnded();

  // "ended at 14:05" today, "ended on 3 Dec, 14:05" another day — in the reader's calendar.
  function sayWhenEnded() {
    var time = document.querySelector("#ended-at time");
    var word = document.getElementById("ended-word");
    if (!time || !word || !time.getAttribute("datetime")) return;
    var when = new Date(time.getAttribute("datetime"));
    word.textContent = when.toDateString() === new Date().toDateString() ? "at" : "on";
  }

  var main = document.querySelector("main[data-live]");
  if (!main || !window.EventSource || !window.LiveblogStream) return;

  var slug = main.dataset.slug;
  var pinnedBox = document.getElementById("pinned");
  var list = document.getElementById("entries");
  var template = document.getElementById("entry-template");
  var announcer = document.getElementById("announcer");
  var newButton = document.getElementById("new-updates");
  var emptyNote = document.getElementById("no-entries");
  var waiting = []; // entries held back while the reader is scrolled down

  function announce(text) {
    announcer.textContent = "";
    // A fresh text node after a tick makes screen readers announce repeated messages too.
    setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function setTime(el, iso) {
    el.setAttribute("datetime", iso || "");
    el.textContent = iso || "";
  }

  function fill(article, entry) {
    var prefix = "entry-" + entry.id;
    article.id = prefix;
    article.dataset.id = entry.id;
    article.dataset.version = entry.version;
    article.dataset.published = entry.published_at;
    article.classList.toggle("is-pinned", !!entry.pinned);
    article.classList.toggle("is-key-event", !!entry.key_event);
    var link = article.querySelector(".entry-time");
    link.id = prefix + "-time";
    link.href = "/blogs/" + encodeURIComponent(slug) + "/entries/" + entry.id;
    setTime(link.querySelector("time"), entry.published_at);
    var headline = article.querySelector(".entry-headline");
    headline.id = prefix + "-headline";
    headline.textContent = entry.headline || "";
    headline.hidden = !entry.headline;
    article.setAttribute("aria-labelledby", headline.id + " " + link.id);
    // `html` was rendered from Markdown and sanitised on the server when the entry was saved.
    article.querySelector(".entry-body").innerHTML = entry.html;
    // Embeds arrive as placeholders; static/embeds.js gives them their "Load content" button.
    if (window.LiveblogEmbeds) window.LiveblogEmbeds.prepare(article);
    article.querySelector(".author-name").textContent = entry.author ? entry.author.name : "";
    var updated = article.querySelector(".entry-updated");
    updated.hidden = entry.version <= 1;
    setTime(updated.querySelector("time"), entry.updated_at);
    var correction = article.querySelector(".entry-correction");
    correction.hidden = !entry.correction;
    if (entry.correction) {
      setTime(correction.querySelector("time"), entry.correction.at);
      correction.querySelector(".correction-note").textContent = entry.correction.note;
    }
    localiseTimes(article);
    return article;
  }

  function build(entry) {
    return fill(template.content.firstElementChild.cloneNode(true), entry);
  }

  function find(id) {
    return document.getElementById("entry-" + id);
  }

  function publishedAt(node) {
    return node.dataset.published || node.querySelector("time").getAttribute("datetime");
  }

  // Newest first: the new node goes before the first entry (or tombstone) older than it.
  function placeInList(node, published, id) {
    var next = list.firstElementChild;
    while (next && next !== emptyNote) {
      var other = publishedAt(next);
      if (published > other || (published === other && id > parseInt(next.dataset.id, 10))) break;
      next = next.nextElementSibling;
    }
    list.insertBefore(node, next || emptyNote);
  }

  function place(article, entry) {
    if (entry.pinned) pinnedBox.appendChild(article);
    else placeInList(article, entry.published_at, entry.id);
    refreshBoxes();
  }

  function refreshBoxes() {
    pinnedBox.hidden = !pinnedBox.querySelector("article");
    emptyNote.hidden = !!(list.querySelector("article, .tombstone") || pinnedBox.querySelector("article"));
  }

  function readerIsAway() {
    return list.getBoundingClientRect().top < 0;
  }

  // Safari has no scroll anchoring: when something above the reader changes, hold still what
  // they are reading. Where the browser anchors by itself the measured shift is already zero.
  function keepPosition(moving, change) {
    if (!readerIsAway()) return change();
    var anchor = null;
    var nodes = main.querySelectorAll("#pinned > *, #entries > *, .pager");
    for (var i = 0; i < nodes.length && !anchor; i++) {
      if (nodes[i] !== moving && !nodes[i].hidden && nodes[i].getBoundingClientRect().bottom > 0) anchor = nodes[i];
    }
    var top = anchor && anchor.getBoundingClientRect().top;
    change();
    if (anchor && anchor.isConnected) {
      var shift = anchor.getBoundingClientRect().top - top;
      if (shift) window.scrollBy(0, shift);
    }
  }

  function showWaiting() {
    newButton.hidden = waiting.length === 0;
    newButton.textContent = waiting.length === 1 ? "Show 1 new update" : "Show " + waiting.length + " new updates";
  }

  function releaseWaiting() {
    var items = waiting;
    waiting = [];
    items.forEach(function (w) { place(w.article, w.entry); });
    showWaiting();
    return items;
  }

  function summary(entry) {
    if (entry.headline) return entry.headline;
    var div = document.createElement("div");
    div.innerHTML = entry.html;
    var words = (div.textContent || "").trim().split(/\s+/);
    return words.slice(0, 12).join(" ") + (words.length > 12 ? "…" : "");
  }

  // A screen reader hears one new update at once, then at most one summary every 10 s: a
  // burst of ten entries is "9 new updates. Latest: …", not ten interruptions.
  var ANNOUNCE_GAP_MS = 10000;
  var lastAnnounced = 0;
  var unannounced = [];
  var announceTimer = null;

  function announceNew(entry) {
    unannounced.push(summary(entry));
    var wait = lastAnnounced + ANNOUNCE_GAP_MS - Date.now();
    if (wait <= 0) sayNew();
    else if (!announceTimer) announceTimer = setTimeout(sayNew, wait);
  }

  function sayNew() {
    announceTimer = null;
    var n = unannounced.length;
    if (!n) return;
    var latest = unannounced[n - 1];
    unannounced = [];
    lastAnnounced = Date.now();
    announce(n === 1 ? "New update: " + latest : n + " new updates. Latest: " + latest);
  }

  // In a tab the reader is not looking at, the title counts what arrived: "(3) Title".
  var baseTitle = document.title;
  var unseen = 0;
  function showTitle() {
    document.title = (unseen ? "(" + unseen + ") " : "") + baseTitle;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && unseen) {
      unseen = 0;
      showTitle();
    }
  });

  function onPublished(entry) {
    if (find(entry.id)) return onUpdated(entry);
    if (document.visibilityState === "hidden") {
      unseen += 1;
      showTitle();
    }
    var article = build(entry);
    if (!entry.pinned && readerIsAway()) {
      waiting = waiting.filter(function (w) { return w.entry.id !== entry.id; });
      waiting.push({ entry: entry, article: article });
      showWaiting();
    } else {
      keepPosition(article, function () { place(article, entry); });
    }
    announceNew(entry);
  }

  function onUpdated(entry) {
    for (var i = 0; i < waiting.length; i++) {
      if (waiting[i].entry.id === entry.id) {
        waiting[i].entry = entry;
        fill(waiting[i].article, entry);
        return;
      }
    }
    var article = find(entry.id);
    if (!article) {
      // An entry from further back than this page shows, pinned now: it belongs on top.
      if (entry.pinned) {
        article = build(entry);
        keepPosition(article, function () { place(article, entry); });
      }
      return;
    }
    var moves = (article.parentNode === pinnedBox) !== !!entry.pinned;
    keepPosition(moves ? article : null, function () {
      fill(article, entry);
      if (moves) place(article, entry);
    });
  }

  function onRetracted(data) {
    var id = data.entry.id;
    waiting = waiting.filter(function (w) { return w.entry.id !== id; });
    showWaiting();
    var article = find(id);
    if (!article) return;
    keepPosition(article, function () {
      article.remove();
      if (data.public_note) {
        var tomb = document.createElement("p");
        tomb.className = "tombstone";
        tomb.id = "entry-" + id;
        tomb.dataset.id = id;
        tomb.dataset.published = publishedAt(article);
        tomb.textContent = "This update was retracted. " + data.public_note;
        // A retracted entry is no longer pinned, so its note sits in the timeline.
        placeInList(tomb, tomb.dataset.published, id);
      }
      refreshBoxes();
    });
  }

  // "Last updated" follows every change the stream brings.
  var lastUpdated = document.querySelector("#last-updated time");
  function touched(iso) {
    if (!lastUpdated) return;
    lastUpdated.setAttribute("datetime", iso || new Date().toISOString());
    localiseTimes(lastUpdated.parentNode);
  }

  function onBlog(blog) {
    touched(blog.updated_at);
    var ended = blog.status === "ended";
    var endedAt = document.getElementById("ended-at");
    if (endedAt && blog.ended_at) {
      endedAt.querySelector("time").setAttribute("datetime", blog.ended_at);
      localiseTimes(endedAt);
    }
    sayWhenEnded();
    if (endedAt) endedAt.hidden = !blog.ended_at;
    baseTitle = blog.title + (ended ? "" : " — live");
    showTitle();
    document.getElementById("blog-title").textContent = blog.title;
    var description = document.getElementById("blog-description");
    description.textContent = blog.description;
    description.hidden = !blog.description;
    var points = document.getElementById("key-points-list");
    keepPosition(null, function () {
      points.replaceChildren.apply(points, blog.key_points.map(function (text) {
        var li = document.createElement("li");
        li.textContent = text;
        return li;
      }));
      document.getElementById("key-points").hidden = blog.key_points.length === 0;
      document.getElementById("ended-banner").hidden = !ended;
    });
    var badge = document.getElementById("live-badge");
    badge.textContent = ended ? "Ended" : "Live";
    badge.className = "badge badge-" + blog.status;
    main.dataset.status = blog.status;
  }

  function onEnded(blog) {
    onBlog(blog);
    announce("This live blog has ended.");
  }

  function connect() {
    // The stream starts right after the seq this page was rendered at (static/live_stream.js).
    window.LiveblogStream.open({
      slug: slug,
      seq: parseInt(main.dataset.seq, 10) || 0,
      on: {
        "entry-published": function (data) { touched(data.entry.updated_at); onPublished(data.entry); },
        "entry-updated": function (data) { touched(data.entry.updated_at); onUpdated(data.entry); },
        "entry-retracted": function (data) { touched(); onRetracted(data); },
        "blog-updated": function (data) { onBlog(data.blog); },
        "blog-ended": function (data) { onEnded(data.blog); },
      },
      live: function () { return main.dataset.status === "live"; },
    });
  }

  newButton.addEventListener("click", function () {
    var items = releaseWaiting();
    if (!items.length) return;
    var newest = items[items.length - 1].article;
    newest.setAttribute("tabindex", "-1");
    newest.scrollIntoView({ block: "start" });
    newest.focus({ preventScroll: true });
  });

  // Back at the top on their own: show what was held, without moving focus or the page.
  window.addEventListener("scroll", function () {
    if (waiting.length && !readerIsAway()) releaseWaiting();
  }, { passive: true });

  if (main.dataset.status !== "ended") connect();
})();
