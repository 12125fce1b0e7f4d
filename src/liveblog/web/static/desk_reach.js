// The desk's "Outside this site" box: whether each retraction is gone from every cache ("gone
// everywhere") or which purge failed, the blog's webhooks, and the log of what was sent. Read
// when the page opens and after each retraction (desk_blog.js calls DeskReach.refresh), then
// again only while something is still on its way — no polling once everything has settled.
(function () {
  "use strict";

  var box = document.getElementById("reach");
  var main = document.querySelector("main.desk-blog");
  if (!box || !main) return;
  var base = "/api/blogs/" + encodeURIComponent(main.dataset.slug);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var cdn = document.getElementById("reach-cdn");
  var retractions = document.getElementById("reach-retractions");
  var hooks = document.getElementById("webhooks");
  var hookCount = document.getElementById("webhook-count");
  var log = document.getElementById("deliveries");
  var form = document.getElementById("webhook-form");
  var formStatus = document.getElementById("webhook-status");
  var timer = null;
  var WAIT_MS = 2000;

  function call(method, path, payload) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload),
    }).then(function (r) {
      if (r.status === 204) return { status: 204, data: null };
      return r.json().then(function (d) { return { status: r.status, data: d }; },
        function () { return { status: r.status, data: {} }; });
    });
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
  }

  function item(parent, parts) {
    var li = document.createElement("li");
    parts.forEach(function (p) {
      var span = document.createElement("span");
      span.textContent = p[0];
      if (p[1]) span.className = p[1];
      li.appendChild(span);
    });
    parent.appendChild(li);
    return li;
  }

  function showRetractions(data) {
    retractions.textContent = "";
    if (!data.purge_targets.length) {
      cdn.textContent = "No CDN purge targets are configured: a retraction is gone from this site's pages, feeds and streams at once.";
    } else {
      cdn.textContent = "CDN purge targets: " + data.purge_targets.join(", ") + ".";
    }
    data.retractions.slice(0, 5).forEach(function (r) {
      var what = "Entry #" + r.entry_id + " retracted: ";
      if (r.gone_everywhere) {
        item(retractions, [[what], ["gone everywhere", "reach-ok"]]);
      } else if (r.failed.length) {
        item(retractions, [[what], ["purge failed: " + r.failed.join(", "), "reach-fail"]]);
      } else {
        var errors = r.waiting.filter(function (w) { return w.error; });
        var text = errors.length
          ? "retrying " + errors.map(function (w) { return w.target + " (" + w.error + ")"; }).join(", ")
          : "purging " + r.waiting.map(function (w) { return w.target; }).join(", ") + "…";
        item(retractions, [[what], [text, "reach-wait"]]);
      }
    });
  }

  function showLog(deliveries) {
    log.textContent = "";
    deliveries.slice(0, 20).forEach(function (d) {
      var cls = d.state === "sent" ? "reach-ok" : d.state === "failed" ? "reach-fail" : "reach-wait";
      var label = (d.kind === "purge" ? "purge " + d.target : "webhook #" + d.target) + " · " +
        (d.event || "site lists") + (d.entry_id ? " #" + d.entry_id : "") + " · ";
      var state = d.state + (d.attempts ? " after " + d.attempts + " failed " + (d.attempts === 1 ? "try" : "tries") : "");
      var li = item(log, [[time(d.sent_at || d.created_at) + " "], [label], [state, cls]]);
      if (d.last_error) item(li, [[" — " + d.last_error]]);
    });
    if (!deliveries.length) item(log, [["Nothing sent yet."]]);
  }

  function refresh() {
    clearTimeout(timer);
    call("GET", base + "/deliveries").then(function (r) {
      if (r.status !== 200) return;
      showRetractions(r.data);
      showLog(r.data.deliveries);
      var moving = r.data.deliveries.some(function (d) { return d.state === "pending"; });
      if (moving) timer = setTimeout(refresh, WAIT_MS);
    });
  }

  function loadHooks() {
    call("GET", base + "/webhooks").then(function (r) {
      if (r.status !== 200) return;
      hooks.textContent = "";
      hookCount.textContent = "(" + r.data.webhooks.length + ")";
      r.data.webhooks.forEach(function (h) {
        var li = item(hooks, [[h.url + " — " + h.events.join(", ") + " "]]);
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "danger";
        remove.textContent = "Remove";
        remove.addEventListener("click", function () {
          if (!window.confirm("Stop sending events to " + h.url + "?")) return;
          call("DELETE", base + "/webhooks/" + h.id).then(loadHooks);
        });
        li.appendChild(remove);
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var events = Array.prototype.filter.call(form.querySelectorAll('input[name="event"]'),
      function (c) { return c.checked; }).map(function (c) { return c.value; });
    var payload = { url: document.getElementById("webhook-url").value.trim(), events: events };
    call("POST", base + "/webhooks", payload).then(function (r) {
      formStatus.textContent = "";
      formStatus.classList.toggle("error", r.status !== 201);
      if (r.status !== 201) {
        formStatus.textContent = "Refused: " + ((r.data && r.data.error) || r.status);
        return;
      }
      formStatus.appendChild(document.createTextNode("Added. Its signing secret, shown only now: "));
      var secret = document.createElement("code");
      secret.className = "secret";
      secret.textContent = r.data.secret;
      formStatus.appendChild(secret);
      document.getElementById("webhook-url").value = "";
      loadHooks();
    });
  });

  window.DeskReach = { refresh: refresh };
  refresh();
  loadHooks();
})();
