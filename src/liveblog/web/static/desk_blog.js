// The desk of one blog: write, preview, publish; see and act on what is live. Everything goes
// through the JSON API with the session cookie and the page's CSRF token.
(function () {
  "use strict";

  var main = document.querySelector("main.desk-blog");
  if (!main) return;
  var slug = main.dataset.slug;
  var mayPublish = main.dataset.mayPublish === "yes";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var base = "/api/blogs/" + encodeURIComponent(slug);
  // Per user: on a shared newsroom computer the next person must not get someone's unsent text.
  var draftKey = "liveblog.desk.draft." + main.dataset.user + "." + slug;

  var form = document.getElementById("composer");
  var headline = document.getElementById("headline");
  var body = document.getElementById("body");
  var correction = document.getElementById("correction");
  var correctionRow = document.getElementById("correction-row");
  var keyEvent = document.getElementById("key-event");
  var pinned = document.getElementById("pinned");
  var saveDraft = document.getElementById("save-draft");
  var cancelEdit = document.getElementById("cancel-edit");
  var editingNote = document.getElementById("editing-note");
  var status = document.getElementById("composer-status");
  var preview = document.getElementById("preview");
  var conflict = document.getElementById("conflict");
  var list = document.getElementById("desk-entries");
  var worklistEl = document.getElementById("worklist");
  var worklistEmpty = document.getElementById("worklist-empty");
  var streamState = document.getElementById("stream-state");
  var retractDialog = document.getElementById("retract-dialog");
  var publicNote = document.getElementById("public-note");

  var editing = null; // {id, version, status} of the entry loaded into the composer
  var pendingMine = null; // the change refused with 409, kept until the editor chooses
  var busy = false;

  function api(method, path, payload, extraHeaders) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    Object.keys(extraHeaders || {}).forEach(function (k) { headers[k] = extraHeaders[k]; });
    return fetch(path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload),
    }).then(function (response) {
      if (response.status === 204) return { status: 204, data: null };
      return response.json().then(
        function (data) { return { status: response.status, data: data }; },
        function () { return { status: response.status, data: {} }; }
      );
    });
  }

  // The API's error body: {"error": message, "field": the input it is about, "status"}.
  function problem(r) {
    var data = r.data || {};
    var message = data.error || ("the server answered " + r.status);
    return data.field && message.indexOf(data.field) !== 0 ? data.field + " " + message : message;
  }

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  // --- the composer, kept in this browser until sent ---------------------------------------

  function snapshot() {
    return {
      headline: headline.value,
      body: body.value,
      correction: correction.value,
      key_event: keyEvent ? keyEvent.checked : false,
      pinned: pinned ? pinned.checked : false,
      media: window.DeskMedia ? window.DeskMedia.saved() : [],
      editing: editing,
    };
  }

  function remember() {
    try { localStorage.setItem(draftKey, JSON.stringify(snapshot())); } catch (e) { /* full */ }
  }

  function restore() {
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(draftKey) || "null"); } catch (e) { saved = null; }
    if (!saved) return;
    headline.value = saved.headline || "";
    body.value = saved.body || "";
    correction.value = saved.correction || "";
    if (keyEvent) keyEvent.checked = !!saved.key_event;
    if (pinned) pinned.checked = !!saved.pinned;
    if (window.DeskMedia) window.DeskMedia.load(saved.media || []);
    setEditing(saved.editing || null);
    if (body.value) say("Your unsent text was restored.");
  }

  function clearComposer() {
    headline.value = body.value = correction.value = "";
    if (keyEvent) keyEvent.checked = false;
    if (pinned) pinned.checked = false;
    if (window.DeskMedia) window.DeskMedia.load([]);
    setEditing(null);
    preview.innerHTML = "";
    try { localStorage.removeItem(draftKey); } catch (e) { /* private mode */ }
  }

  function setEditing(entry) {
    var changed = (editing && editing.id) !== (entry && entry.id);
    editing = entry;
    if (changed) beat();
    cancelEdit.hidden = !entry;
    editingNote.hidden = !entry;
    correctionRow.hidden = !(entry && entry.status === "published");
    if (entry) {
      editingNote.textContent = "Editing entry " + entry.id + " (version " + entry.version + ", " +
        entry.status + ")";
    }
  }

  var previewTimer = null;
  var previewAsked = 0;
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(function () {
      var asked = ++previewAsked;
      if (!body.value.trim()) { preview.innerHTML = ""; return; }
      api("POST", "/api/preview", { body: body.value }).then(function (r) {
        if (asked !== previewAsked) return; // a newer preview is on its way
        if (r.status === 200) preview.innerHTML = r.data.html; // sanitised by the server
        else preview.textContent = "Preview unavailable: " + problem(r);
      });
    }, 250);
  }

  [headline, body, correction].forEach(function (el) {
    el.addEventListener("input", function () { remember(); if (el === body) schedulePreview(); });
  });
  [keyEvent, pinned].forEach(function (el) { if (el) el.addEventListener("change", remember); });
  if (window.DeskMedia) window.DeskMedia.onChange(remember);

  function send(targetStatus, publishAt) {
    if (busy) return;
    var pictures = window.DeskMedia ? window.DeskMedia.count() : 0;
    if (!body.value.trim() && !pictures) { say("Write something first.", true); body.focus(); return; }
    busy = true;
    if (!window.DeskMedia) return sendWith(targetStatus, publishAt, undefined);
    if (pictures) say("Uploading pictures…");
    window.DeskMedia.ready().then(function (media) {
      sendWith(targetStatus, publishAt, media);
    }, function (error) {
      busy = false;
      say("Not saved: " + error.message, true);
    });
  }

  function sendWith(targetStatus, publishAt, media) {
    var change = {
      headline: headline.value,
      body: body.value,
      key_event: keyEvent ? keyEvent.checked : undefined,
      pinned: pinned ? pinned.checked : undefined,
      media: media,
    };
    if (publishAt) change.publish_at = publishAt;
    var request;
    if (editing) {
      if (correction.value.trim()) change.correction = correction.value;
      if (targetStatus !== editing.status && editing.status !== "published") change.status = targetStatus;
      request = api("PATCH", base + "/entries/" + editing.id, change,
        { "If-Match": '"' + editing.version + '"' });
    } else {
      change.status = targetStatus;
      request = api("POST", base + "/entries", change);
    }
    request.then(function (r) {
      busy = false;
      if (r.status === 200 || r.status === 201) {
        var done = { published: "Published.", draft: "Draft saved.", submitted: "Submitted for review.",
          scheduled: "Scheduled for " + new Date(r.data.publish_at || 0).toLocaleString() + "." };
        say(editing && editing.status === "published" ? "Saved." : (done[r.data.status] || "Saved."));
        clearComposer();
        loadWorklist();
        loadActivity();
      } else if ((r.status === 409 || r.status === 412) && r.data.current) {
        showConflict(r.data.current, change);
      } else {
        say("Not saved: " + problem(r), true);
      }
    }, function () {
      busy = false;
      say("Not saved: the connection failed. Your text is kept here; try again.", true);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(mayPublish ? "published" : "submitted");
  });
  saveDraft.addEventListener("click", function () { send("draft"); });
  var scheduleButton = document.getElementById("schedule");
  if (scheduleButton) {
    scheduleButton.addEventListener("click", function () {
      var local = document.getElementById("publish-at").value; // the editor's own clock
      if (!local) { say("Pick the time to publish at.", true); return; }
      // The browser knows the editor's zone: send an unambiguous UTC time.
      send("scheduled", new Date(local).toISOString());
    });
  }
  cancelEdit.addEventListener("click", function () { clearComposer(); say("Editing cancelled."); });
  body.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send(mayPublish ? "published" : "submitted"); // what the main button does
    }
  });

  // --- conflicts: never overwrite a colleague silently --------------------------------------

  function showConflict(current, mine) {
    pendingMine = { current: current, mine: mine };
    document.getElementById("conflict-theirs").innerHTML = current.html;
    var mineBox = document.getElementById("conflict-mine");
    mineBox.textContent = mine.body;
    conflict.hidden = false;
    say("Not saved: a colleague changed this entry (now version " + current.version + ").", true);
    document.getElementById("keep-mine").focus();
  }

  document.getElementById("keep-mine").addEventListener("click", function () {
    if (!pendingMine) return;
    editing.version = pendingMine.current.version; // overwrite knowingly, from their version
    conflict.hidden = true;
    pendingMine = null;
    send(editing.status);
  });
  document.getElementById("take-theirs").addEventListener("click", function () {
    if (!pendingMine) return;
    conflict.hidden = true;
    pendingMine = null;
    clearComposer();
    say("Kept your colleague's version.");
  });

  // --- entries: the live list and the worklist ----------------------------------------------

  function button(label, action, extraClass) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.action = action;
    if (extraClass) b.className = extraClass;
    return b;
  }

  function entryItem(entry, withFlags) {
    var li = document.createElement("li");
    li.id = "desk-entry-" + entry.id;
    li.dataset.id = entry.id;
    li.className = "desk-entry";
    li.classList.toggle("is-pinned", !!entry.pinned);
    li.classList.toggle("is-key-event", !!entry.key_event);
    var meta = document.createElement("p");
    meta.className = "meta";
    var when = entry.status === "scheduled" ? entry.publish_at : (entry.published_at || entry.updated_at);
    meta.textContent = [entry.status === "published" ? "" : entry.status.toUpperCase(),
      entry.author.name, when ? new Date(when).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "",
      entry.pinned ? "pinned" : "", entry.key_event ? "key event" : ""].filter(Boolean).join(" · ");
    li.appendChild(meta);
    if (entry.headline) {
      var h = document.createElement("h3");
      h.textContent = entry.headline;
      li.appendChild(h);
    }
    if (entry.review_note) {
      var note = document.createElement("p");
      note.className = "review-note";
      note.textContent = "Sent back: " + entry.review_note;
      li.appendChild(note);
    }
    var content = document.createElement("div");
    content.className = "entry-body";
    content.innerHTML = entry.html; // sanitised by the server at write time
    li.appendChild(content);
    var actions = document.createElement("div");
    actions.className = "entry-actions";
    actions.appendChild(button("Edit", "edit"));
    actions.appendChild(button("History", "history"));
    if (mayPublish) {
      if (entry.status !== "published") actions.appendChild(button("Publish", "publish", "primary"));
      if (entry.status === "submitted") actions.appendChild(button("Send back…", "send-back"));
      if (withFlags) {
        actions.appendChild(button(entry.pinned ? "Unpin" : "Pin", "pin"));
        actions.appendChild(button(entry.key_event ? "Not key event" : "Key event", "key"));
      }
    }
    actions.appendChild(button(entry.status === "published" ? "Retract…" : "Discard…", "retract", "danger"));
    li.appendChild(actions);
    li.entry = entry;
    markEditors(li);
    return li;
  }

  function upsert(entry) {
    var existing = document.getElementById("desk-entry-" + entry.id);
    var item = entryItem(entry, true);
    if (existing && existing.parentNode === list) list.replaceChild(item, existing);
    else list.insertBefore(item, list.firstChild);
  }

  function loadWorklist() {
    api("GET", base + "/worklist").then(function (r) {
      if (r.status !== 200) return;
      worklistEl.textContent = "";
      r.data.entries.forEach(function (entry) { worklistEl.appendChild(entryItem(entry, false)); });
      worklistEmpty.hidden = r.data.entries.length > 0;
    });
  }

  function act(item, action) {
    var entry = item.entry;
    var path = base + "/entries/" + entry.id;
    var ifMatch = { "If-Match": '"' + entry.version + '"' };
    if (action === "edit") {
      headline.value = entry.headline;
      body.value = entry.body;
      correction.value = "";
      if (keyEvent) keyEvent.checked = entry.key_event;
      if (pinned) pinned.checked = entry.pinned;
      if (window.DeskMedia) window.DeskMedia.load(entry.media);
      setEditing({ id: entry.id, version: entry.version, status: entry.status });
      remember();
      schedulePreview();
      body.focus();
    } else if (action === "publish") {
      api("PATCH", path, { status: "published" }, ifMatch).then(afterAction("Published."));
    } else if (action === "pin") {
      api("PATCH", path, { pinned: !entry.pinned }, ifMatch).then(afterAction(entry.pinned ? "Unpinned." : "Pinned."));
    } else if (action === "key") {
      api("PATCH", path, { key_event: !entry.key_event }, ifMatch).then(afterAction("Saved."));
    } else if (action === "history") {
      showHistory(path);
    } else if (action === "send-back") {
      document.getElementById("review-note").value = "";
      sendBackDialog.dataset.path = path;
      sendBackDialog.dataset.version = entry.version;
      sendBackDialog.showModal();
    } else if (action === "retract") {
      publicNote.value = "";
      retractDialog.dataset.path = path;
      retractDialog.showModal();
    }
  }

  function afterAction(message) {
    return function (r) {
      if (r.status >= 200 && r.status < 300) { say(message); loadWorklist(); loadActivity(); }
      else say("Refused: " + problem(r), true);
    };
  }

  [list, worklistEl].forEach(function (container) {
    container.addEventListener("click", function (event) {
      var target = event.target.closest("button[data-action]");
      if (!target) return;
      act(target.closest("li"), target.dataset.action);
    });
  });

  // --- history of an entry, and what the team did -------------------------------------------

  var historyDialog = document.getElementById("history-dialog");
  function showHistory(path) {
    api("GET", path + "/revisions").then(function (r) {
      var list = document.getElementById("history");
      list.textContent = "";
      if (r.status !== 200) { say("Refused: " + problem(r), true); return; }
      r.data.revisions.slice().reverse().forEach(function (rev) {
        var li = document.createElement("li");
        var meta = document.createElement("p");
        meta.className = "meta";
        meta.textContent = "Version " + rev.version + " · " + rev.editor + " · " +
          new Date(rev.created_at).toLocaleString() + (rev.correction ? " · correction: " + rev.correction : "");
        var content = document.createElement("div");
        content.className = "entry-body";
        content.innerHTML = rev.html; // sanitised by the server at write time
        li.appendChild(meta);
        li.appendChild(content);
        list.appendChild(li);
      });
      historyDialog.showModal();
    });
  }

  var activityEl = document.getElementById("activity");
  function loadActivity() {
    if (!activityEl) return;
    api("GET", "/api/audit?limit=15&blog=" + encodeURIComponent(slug)).then(function (r) {
      if (r.status !== 200) return;
      activityEl.textContent = "";
      r.data.records.forEach(function (rec) {
        var li = document.createElement("li");
        li.textContent = new Date(rec.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) +
          " " + rec.actor + ": " + rec.action.replace(".", " ") + (rec.entry_id ? " #" + rec.entry_id : "");
        activityEl.appendChild(li);
      });
    });
  }

  var sendBackDialog = document.getElementById("send-back-dialog");
  sendBackDialog.addEventListener("close", function () {
    if (sendBackDialog.returnValue !== "send") return;
    var change = { status: "draft", review_note: document.getElementById("review-note").value };
    api("PATCH", sendBackDialog.dataset.path, change,
      { "If-Match": '"' + sendBackDialog.dataset.version + '"' }).then(afterAction("Sent back to its author."));
  });

  retractDialog.addEventListener("close", function () {
    if (retractDialog.returnValue !== "retract") return;
    api("DELETE", retractDialog.dataset.path, { public_note: publicNote.value })
      .then(afterAction("Retracted."));
  });

  // --- key points and the blog's status ----------------------------------------------------

  var keyPointsForm = document.getElementById("key-points-form");
  var blogBoxStatus = document.getElementById("blog-box-status");
  var endButton = document.getElementById("end-blog");
  var reopenButton = document.getElementById("reopen-blog");

  function blogChange(change, done) {
    api("PATCH", base, change).then(function (r) {
      blogBoxStatus.classList.toggle("error", r.status !== 200);
      blogBoxStatus.textContent = r.status === 200 ? done : "Refused: " + problem(r);
      if (r.status === 200) showBlog(r.data);
      // An ended blog's stream closes; listen again once it is live.
      if (r.status === 200 && change.status === "live") start();
    });
  }

  if (keyPointsForm) {
    keyPointsForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var points = document.getElementById("key-points").value.split("\n")
        .map(function (line) { return line.trim(); }).filter(Boolean);
      blogChange({ key_points: points }, "Key points saved.");
    });
    endButton.addEventListener("click", function () {
      if (window.confirm("End this live blog? Readers will see that it has ended.")) {
        blogChange({ status: "ended" }, "The live blog has ended.");
      }
    });
    reopenButton.addEventListener("click", function () { blogChange({ status: "live" }, "Reopened."); });
  }

  function showBlog(blog) {
    document.getElementById("blog-status").textContent = blog.status;
    if (endButton) {
      endButton.hidden = blog.status === "ended";
      reopenButton.hidden = blog.status !== "ended";
    }
  }

  // --- the live stream of what readers see ---------------------------------------------------

  var activityTimer = null;
  function changed() {
    // One activity refresh per burst of events, not one per event.
    clearTimeout(activityTimer);
    activityTimer = setTimeout(loadActivity, 500);
  }

  function removeEntry(data) {
    var gone = document.getElementById("desk-entry-" + data.entry.id);
    if (gone && gone.parentNode === list) list.removeChild(gone);
  }

  var STATES = { live: "· live", reconnecting: "· reconnecting…", closed: "· closed", ended: "· ended" };
  var stream = null;
  function connect(seq) {
    // The same stream client as the reader page (static/live_stream.js), from the seq the list
    // was read at.
    if (stream) stream.close();
    stream = window.LiveblogStream.open({
      slug: slug,
      seq: seq,
      on: {
        "entry-published": function (data) { changed(); upsert(data.entry); },
        "entry-updated": function (data) { changed(); upsert(data.entry); },
        "entry-retracted": function (data) {
          changed(); removeEntry(data);
          if (window.DeskReach) window.DeskReach.refresh(); // "gone everywhere" yet?
        },
        "blog-updated": function (data) { changed(); showBlog(data.blog); },
        "blog-ended": function (data) { changed(); showBlog(data.blog); },
      },
      state: function (name) { streamState.textContent = STATES[name]; },
      resync: start, // read the list afresh, and listen from there
      live: function () { return document.getElementById("blog-status").textContent === "live"; },
    });
  }

  function start() {
    api("GET", base + "/entries?limit=50").then(function (r) {
      if (r.status !== 200) { streamState.textContent = "· unavailable"; return; }
      list.textContent = "";
      r.data.entries.slice().reverse().forEach(upsert);
      connect(r.data.blog.seq);
    });
  }

  // --- presence: who else has this desk open, and what they are editing ----------------------

  var presenceEl = document.getElementById("presence");
  var tab = Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(12)), function (b) {
    return ("0" + b.toString(16)).slice(-2);
  }).join("");
  var editors = {}; // entry id -> names editing it elsewhere

  function beat() {
    if (!presenceEl) return;
    api("PUT", base + "/presence", { tab: tab, editing: editing ? editing.id : null }).then(function (r) {
      if (r.status !== 200) return;
      var others = r.data.present.filter(function (p) { return !p.you; });
      editors = {};
      var names = others.map(function (p) {
        if (p.editing) (editors[p.editing] = editors[p.editing] || []).push(p.name);
        return p.editing ? p.name + " (editing entry " + p.editing + ")" : p.name;
      });
      presenceEl.textContent = names.length ? "Also here: " + names.join(", ") : "Nobody else is on this desk.";
      document.querySelectorAll("li.desk-entry").forEach(markEditors);
      warnIfShared();
    });
  }

  function markEditors(li) {
    var names = editors[li.dataset.id];
    var badge = li.querySelector(".being-edited");
    if (!names) { if (badge) badge.remove(); return; }
    if (!badge) {
      badge = document.createElement("p");
      badge.className = "being-edited";
      li.insertBefore(badge, li.firstChild.nextSibling);
    }
    badge.textContent = "Being edited by " + names.join(", ");
  }

  function warnIfShared() {
    var names = editing && editors[editing.id];
    if (names) say(names.join(", ") + " is editing this entry too; whoever saves second will be asked to choose.");
  }

  // Colleagues' drafts and submissions make no public events: look for them with each beat.
  setInterval(function () { beat(); loadWorklist(); }, 5000);
  window.addEventListener("pagehide", function () {
    fetch(base + "/presence?tab=" + tab, {
      method: "DELETE", keepalive: true, credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
    });
  });

  restore();
  beat();
  schedulePreview();
  loadWorklist();
  loadActivity();
  start();
  // Drafts have no public events; look again when the editor comes back to the tab.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { loadWorklist(); loadActivity(); }
  });
})();
