// Click-to-load embeds. The server writes each post or video from another site as a plain link
// inside a container whose data-embed-* attributes describe the iframe (render/embeds.py).
// Nothing from that site loads until the reader asks: this script adds a "Load content from …"
// button to each placeholder and builds the sandboxed iframe only when it is pressed.
// Entries that arrive later are prepared too: a MutationObserver sees them, and other scripts
// may call window.LiveblogEmbeds.prepare(root) themselves; clicks are handled on document.
(function () {
  "use strict";

  var SELECTOR = ".embed[data-embed-src]";
  var ASPECTS = { "16x9": 1, "9x16": 1, "post": 1, "post-tall": 1 };
  // The sandbox tokens an embed may ask for; never allow-top-navigation, never allow-forms.
  var SANDBOX = {
    "allow-scripts": 1, "allow-same-origin": 1, "allow-popups": 1,
    "allow-popups-to-escape-sandbox": 1, "allow-presentation": 1
  };
  var FEATURES = { "encrypted-media": 1, "fullscreen": 1, "picture-in-picture": 1 };
  var counter = 0;

  // The server only writes https embed URLs on the table's hosts, and the CSP's frame-src
  // refuses any other host; this check keeps a stray attribute from even trying.
  function safeSource(value) {
    try {
      var url = new URL(value);
      return url.protocol === "https:" && !url.username && !url.password ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function allowedTokens(value, allowed, separator) {
    return (value || "").split(separator).map(function (t) { return t.trim(); })
      .filter(function (t) { return allowed.hasOwnProperty(t); });
  }

  function size(value, fallback) {
    var n = parseInt(value, 10);
    return n > 0 && n < 5000 ? String(n) : fallback;
  }

  function prepareOne(box) {
    if (box.classList.contains("embed-ready") || box.classList.contains("embed-loaded")) return;
    var platform = box.getAttribute("data-embed-platform") || "the original site";
    if (!safeSource(box.getAttribute("data-embed-src"))) return;
    var id = "embed-note-" + (++counter);
    var consent = document.createElement("div");
    consent.className = "embed-consent";
    var note = document.createElement("p");
    note.className = "embed-note";
    note.id = id;
    note.textContent = "This content is hosted by " + platform + ". Loading it shares your IP " +
      "address with " + platform + ", which may set cookies.";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "embed-load";
    button.textContent = "Load content from " + platform;
    button.setAttribute("aria-describedby", id);
    consent.appendChild(note);
    consent.appendChild(button);
    box.appendChild(consent);
    box.classList.add("embed-ready");
  }

  function prepare(root) {
    root = root || document;
    if (root.nodeType !== 1 && root.nodeType !== 9 && root.nodeType !== 11) return;
    if (root.nodeType === 1 && root.matches(SELECTOR)) prepareOne(root);
    var boxes = root.querySelectorAll(SELECTOR);
    for (var i = 0; i < boxes.length; i++) prepareOne(boxes[i]);
  }

  function load(box) {
    var src = safeSource(box.getAttribute("data-embed-src"));
    if (!src || box.classList.contains("embed-loaded")) return;
    var platform = box.getAttribute("data-embed-platform") || "";
    var aspect = box.getAttribute("data-embed-aspect");
    if (!ASPECTS.hasOwnProperty(aspect)) aspect = "post";
    var frame = document.createElement("iframe");
    frame.className = "embed-frame embed-" + aspect;
    frame.setAttribute("sandbox", allowedTokens(box.getAttribute("data-embed-sandbox"), SANDBOX, /\s+/).join(" "));
    var features = allowedTokens(box.getAttribute("data-embed-allow"), FEATURES, ";");
    if (features.length) frame.setAttribute("allow", features.join("; "));
    if (features.indexOf("fullscreen") >= 0) frame.setAttribute("allowfullscreen", ""); // older Safari
    frame.setAttribute("referrerpolicy", "strict-origin-when-cross-origin");
    frame.setAttribute("loading", "lazy");
    frame.setAttribute("width", size(box.getAttribute("data-embed-width"), "550"));
    frame.setAttribute("height", size(box.getAttribute("data-embed-height"), "560"));
    frame.title = box.getAttribute("data-embed-title") || ("Content from " + platform);
    frame.src = src;
    var consent = box.querySelector(".embed-consent");
    if (consent) box.removeChild(consent);
    var wrap = document.createElement("div");
    wrap.className = "embed-frame-wrap embed-wrap-" + aspect;
    wrap.appendChild(frame);
    box.insertBefore(wrap, box.firstChild);
    box.classList.remove("embed-ready");
    box.classList.add("embed-loaded");
    // The button that had focus is gone: put the reader on what it loaded, not back at the top.
    frame.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".embed-load");
    if (!button) return;
    var box = button.closest(SELECTOR);
    if (box) load(box);
  });

  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var added = records[i].addedNodes;
        for (var j = 0; j < added.length; j++) {
          if (added[j].nodeType === 1) prepare(added[j]);
        }
      }
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  window.LiveblogEmbeds = { prepare: prepare };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  } else {
    prepare(document);
  }
})();
