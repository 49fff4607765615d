// promptsync admin: progressive enhancement only; every page works without this file.
(function () {
  "use strict";

  function copyText(text, button) {
    function done(ok) {
      var old = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", old);
      button.textContent = ok ? "Copied" : "Press Ctrl+C";
      window.setTimeout(function () { button.textContent = old; }, 1600);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(false); });
      return;
    }
    // Fallback for plain-HTTP hosts where the async clipboard API is unavailable.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    done(ok);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { copyText(target.textContent.trim(), button); });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    var guarded = form.getAttribute("data-confirm-label");
    if (!message && guarded && form.elements.label && form.elements.label.value.trim() === guarded) {
      message = "Move '" + guarded + "' to v" + form.elements.version.value + "? Applications fetching it switch at once.";
    }
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  // A refused save is answered on the page of its POST (the text kept, the errors shown): its
  // address becomes the form's own page, so a reload fetches that page instead of posting the
  // form again (POST-redirect-GET, without losing the draft a redirect would drop).
  var refused = document.querySelector("[data-replace-url]");
  if (refused && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", refused.getAttribute("data-replace-url"));
  }

  // Tab inserts two spaces in the YAML editor (Esc then Tab leaves it, for keyboard users).
  var editor = document.getElementById("source-editor");
  if (editor) {
    var escaped = false;
    editor.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { escaped = true; return; }
      if (event.key === "Tab" && !event.shiftKey && !escaped) {
        event.preventDefault();
        var start = editor.selectionStart, end = editor.selectionEnd;
        editor.setRangeText("  ", start, end, "end");
      }
      escaped = false;
    });
  }
})();
