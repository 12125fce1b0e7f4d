// The desk's home: suggest the new blog's slug from its title as the editor types, until they
// write a slug of their own. The form works without this script; the server checks the slug.
(function () {
  "use strict";

  var title = document.getElementById("blog-title");
  var slug = document.getElementById("blog-slug");
  if (!title || !slug) return;

  var MAX_SLUG = 80;
  // Latin letters that Unicode does not decompose into a base letter plus accents.
  var LETTERS = { "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i" };

  function suggest(text) {
    var ascii = text.toLowerCase()
      .replace(/[ßæœøđðłþı]/g, function (c) { return LETTERS[c]; })
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "");
    return ascii.replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+/, "")
      .slice(0, MAX_SLUG)
      .replace(/-+$/, "");
  }

  // Follow the title while the slug is empty or still the suggestion (say after the server sent
  // the form back); a slug the editor typed is theirs. Emptying the field hands it back.
  var following = slug.value === "" || slug.value === suggest(title.value);

  title.addEventListener("input", function () {
    if (following) slug.value = suggest(title.value);
  });
  slug.addEventListener("input", function () {
    following = slug.value === "";
  });
})();
