/* Keyboard helpers for the case pages; everything works without them.
   - Ctrl+Enter (or Cmd+Enter) in a text box sends its form;
   - "/" focuses the inbox search box;
   - the first field with an error gets the focus after a failed submission. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA" && target.form) {
      event.preventDefault();
      if (target.form.requestSubmit) { target.form.requestSubmit(); } else { target.form.submit(); }
    }
    if (event.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && !target.isContentEditable) {
      var search = document.getElementById("id_q");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    // wide screens have room for every filter
    var more = document.querySelector(".more-filters");
    if (more && window.matchMedia && window.matchMedia("(min-width: 52rem)").matches) { more.open = true; }
    var failed = document.querySelector(".case-actions .has-error input:not([type=hidden]), .case-actions .has-error textarea, .case-actions .has-error select");
    if (failed) { failed.focus(); return; }
    var alert = document.querySelector(".case-actions .form-error");
    if (alert) { alert.setAttribute("tabindex", "-1"); alert.focus(); }
  });
})();
