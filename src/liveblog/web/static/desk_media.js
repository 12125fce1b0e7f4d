// The composer's pictures: pick, drop or paste files; each is uploaded (with progress) once its
// alt text is written, and the entry carries the list in the tray's order with the texts typed
// here. desk_blog.js asks this script for the list when it sends, and hands it an entry's list
// when an editor starts editing one.
(function () {
  "use strict";

  var main = document.querySelector("main.desk-blog");
  var tray = document.getElementById("picture-tray");
  if (!main || !tray) return;
  var uploadUrl = "/api/blogs/" + encodeURIComponent(main.dataset.slug) + "/media";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var input = document.getElementById("picture-input");
  var drop = document.getElementById("picture-drop");
  var composer = document.getElementById("composer");
  var MAX = 20;
  var items = []; // {li, id, file, uploading: Promise|null, error}
  var listeners = [];

  function changed() { listeners.forEach(function (fn) { fn(); }); }

  function field(li, name) { return li.querySelector("[data-field='" + name + "']"); }

  function texts(item) {
    return {
      alt: field(item.li, "alt").value.trim(),
      caption: field(item.li, "caption").value.trim(),
      credit: field(item.li, "credit").value.trim(),
    };
  }

  function setState(item, text, isError) {
    var state = item.li.querySelector(".picture-state");
    state.textContent = text;
    state.classList.toggle("error", !!isError);
  }

  function textInput(name, label, value, required) {
    var wrap = document.createElement("label");
    wrap.className = "picture-field";
    wrap.textContent = label;
    var el = document.createElement("input");
    el.dataset.field = name;
    el.value = value || "";
    el.maxLength = name === "credit" ? 300 : 1000;
    el.autocomplete = "off";
    if (required) el.required = true;
    wrap.appendChild(el);
    return wrap;
  }

  function smallButton(label, action, name) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.pictureAction = action;
    b.setAttribute("aria-label", name);
    return b;
  }

  function build(thumbUrl, values, position) {
    var li = document.createElement("li");
    li.className = "picture";
    var img = document.createElement("img");
    img.className = "picture-thumb";
    img.alt = "";
    img.src = thumbUrl;
    li.appendChild(img);
    var fields = document.createElement("div");
    fields.className = "picture-fields";
    fields.appendChild(textInput("alt", "Alt text (required: what the picture shows)", values.alt, true));
    fields.appendChild(textInput("caption", "Caption", values.caption));
    fields.appendChild(textInput("credit", "Credit", values.credit));
    var progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.hidden = true;
    fields.appendChild(progress);
    var state = document.createElement("p");
    state.className = "picture-state";
    state.setAttribute("role", "status");
    fields.appendChild(state);
    li.appendChild(fields);
    var tools = document.createElement("div");
    tools.className = "picture-tools";
    tools.appendChild(smallButton("↑", "up", "Move picture " + position + " up"));
    tools.appendChild(smallButton("↓", "down", "Move picture " + position + " down"));
    tools.appendChild(smallButton("Remove", "remove", "Remove picture " + position));
    li.appendChild(tools);
    return li;
  }

  function add(file) {
    if (items.length >= MAX) { return; }
    var item = { id: null, file: file, uploading: null, error: null, thumb: URL.createObjectURL(file) };
    item.li = build(item.thumb, { alt: "", caption: "", credit: "" }, items.length + 1);
    item.li.item = item;
    tray.appendChild(item.li);
    items.push(item);
    setState(item, file.name + ": write the alt text to upload it.");
    field(item.li, "alt").focus();
    changed();
  }

  function upload(item) {
    if (item.id || item.uploading) return item.uploading || Promise.resolve(item);
    var t = texts(item);
    if (!t.alt) return Promise.reject(new Error("a picture needs its alt text"));
    var progress = item.li.querySelector("progress");
    progress.hidden = false;
    item.error = null;
    setState(item, "Uploading…");
    item.uploading = new Promise(function (resolve, reject) {
      // XMLHttpRequest, not fetch: only it reports upload progress.
      var xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.addEventListener("abort", function () {
        item.uploading = null;
        reject(new Error("removed"));
      });
      xhr.open("POST", uploadUrl);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) progress.value = Math.round(100 * event.loaded / event.total);
      });
      xhr.addEventListener("load", function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
        item.uploading = null;
        if (xhr.status === 201) {
          item.id = data.id;
          item.serverThumb = thumbOf(data);
          progress.value = 100;
          progress.hidden = true;
          setState(item, "Uploaded (" + data.width + " × " + data.height + ").");
          changed();
          resolve(item);
        } else {
          progress.hidden = true;
          item.error = data.error || ("the server answered " + xhr.status);
          setState(item, "Not uploaded: " + item.error, true);
          reject(new Error(item.error));
        }
      });
      xhr.addEventListener("error", function () {
        item.uploading = null;
        progress.hidden = true;
        item.error = "the connection failed";
        setState(item, "Not uploaded: the connection failed. It will be tried again when you send.", true);
        reject(new Error("the connection failed"));
      });
      var form = new FormData();
      form.append("file", item.file);
      form.append("alt", t.alt);
      form.append("caption", t.caption);
      form.append("credit", t.credit);
      xhr.send(form);
    });
    return item.uploading;
  }

  function addFiles(fileList) {
    Array.prototype.forEach.call(fileList || [], function (file) {
      if (file && /^image\//.test(file.type || "image/")) add(file);
    });
  }

  input.addEventListener("change", function () { addFiles(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (name) {
    composer.addEventListener(name, function (event) {
      if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
      event.preventDefault();
      drop.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    composer.addEventListener(name, function () { drop.classList.remove("is-over"); });
  });
  composer.addEventListener("drop", function (event) {
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    addFiles(event.dataTransfer.files);
  });
  // A picture pasted into the composer (a screenshot, an image copied from a photo app).
  // Spreadsheets and word processors put text and a picture of it on the clipboard together:
  // then the text is what the editor meant, and the paste is left alone.
  composer.addEventListener("paste", function (event) {
    var data = event.clipboardData;
    if (!data || Array.prototype.indexOf.call(data.types || [], "text/plain") >= 0) return;
    var files = [];
    Array.prototype.forEach.call(data.items || [], function (it) {
      if (it.kind === "file" && /^image\//.test(it.type)) files.push(it.getAsFile());
    });
    if (!files.length) return;
    event.preventDefault();
    addFiles(files);
  });

  // Writing the alt text starts the upload: on a slow network it is under way while the
  // caption is typed.
  tray.addEventListener("change", function (event) {
    var li = event.target.closest("li.picture");
    if (li && event.target.dataset.field === "alt" && event.target.value.trim()) {
      upload(li.item).catch(function () { /* shown on the item */ });
    }
    changed();
  });
  tray.addEventListener("click", function (event) {
    var b = event.target.closest("button[data-picture-action]");
    if (!b) return;
    var li = b.closest("li.picture");
    var i = items.indexOf(li.item);
    var action = b.dataset.pictureAction;
    if (action === "remove") {
      items.splice(i, 1);
      li.remove();
      if (li.item.xhr && li.item.uploading) li.item.xhr.abort();
      if (li.item.thumb && /^blob:/.test(li.item.thumb)) URL.revokeObjectURL(li.item.thumb);
    } else if (action === "up" && i > 0) {
      items.splice(i - 1, 0, items.splice(i, 1)[0]);
      tray.insertBefore(li, li.previousElementSibling);
    } else if (action === "down" && i < items.length - 1) {
      items.splice(i + 1, 0, items.splice(i, 1)[0]);
      tray.insertBefore(li.nextElementSibling, li);
    }
    b.focus();
    changed();
  });

  function thumbOf(picture) {
    var small = (picture.renditions || []).filter(function (r) { return r.format === "jpeg" || r.format === "png"; });
    return small.length ? small[0].url : "";
  }

  window.DeskMedia = {
    // Every picture uploaded and described: resolves with the entry's `media` list, or
    // rejects with a message fit for the composer's status line.
    ready: function () {
      var missing = items.filter(function (item) { return !texts(item).alt; });
      if (missing.length) {
        field(missing[0].li, "alt").focus();
        return Promise.reject(new Error("every picture needs its alt text (what it shows, for readers who cannot see it)"));
      }
      // Wait for every upload to settle, then look again: a picture removed meanwhile does
      // not count, one added meanwhile must be uploaded too, one that failed says why.
      var sending = items.slice();
      return Promise.all(sending.map(function (item) {
        return upload(item).catch(function (error) { return error; });
      })).then(function () {
        var pending = items.filter(function (item) { return !item.id; });
        if (pending.length) {
          var why = pending[0].error || "a picture is still uploading";
          throw new Error(why + "; the entry was not sent");
        }
        return items.map(function (item) {
          var t = texts(item);
          return { id: item.id, alt: t.alt, caption: t.caption, credit: t.credit };
        });
      });
    },
    // What the browser keeps of an unsent entry: only pictures already uploaded.
    saved: function () {
      return items.filter(function (item) { return item.id; }).map(function (item) {
        var t = texts(item);
        var thumb = item.serverThumb || (/^blob:/.test(item.thumb) ? "" : item.thumb);
        return { id: item.id, alt: t.alt, caption: t.caption, credit: t.credit, thumb: thumb };
      });
    },
    load: function (pictures) {
      items = [];
      tray.textContent = "";
      (pictures || []).forEach(function (picture, i) {
        var item = { id: picture.id, file: null, uploading: null, error: null, thumb: picture.thumb || thumbOf(picture) };
        item.li = build(item.thumb, picture, i + 1);
        item.li.item = item;
        tray.appendChild(item.li);
        items.push(item);
        setState(item, "Uploaded.");
      });
      changed();
    },
    count: function () { return items.length; },
    onChange: function (fn) { listeners.push(fn); },
  };
})();
