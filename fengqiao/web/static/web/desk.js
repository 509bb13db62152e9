/* The desk's small helpers: a text filter over a category select, focus after HTMX swaps.
 * (Picking a point on the hotline form's grid map: web/gridpick.js.) */
(function () {
  "use strict";

  function bindFilters(root) {
    root.querySelectorAll("input[data-filter-select]").forEach(function (input) {
      if (input.dataset.bound) { return; }
      input.dataset.bound = "1";
      var select = document.getElementById(input.dataset.filterSelect);
      if (!select) { return; }
      input.addEventListener("input", function () {
        var words = input.value.trim().toLowerCase();
        var first = null;
        Array.prototype.forEach.call(select.options, function (option) {
          var show = !words || option.value === "" || option.text.toLowerCase().indexOf(words) !== -1;
          option.hidden = !show;
          if (show && option.value && !first) { first = option; }
        });
        var current = select.options[select.selectedIndex];
        if (words && first && (!current || current.hidden || !current.value)) { select.value = first.value; }
      });
    });
  }

  function init(root) { bindFilters(root); }
  function markCurrent(root) {
    var detail = document.getElementById("desk-case");
    var number = detail ? detail.querySelector("#case-title") : null;
    document.querySelectorAll(".queue-item a").forEach(function (link) {
      var item = link.closest(".queue-item");
      link.setAttribute("aria-current", number && item && item.dataset.number === number.textContent.trim() ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    // a form sent back with errors: start at the first field to correct
    var invalid = document.querySelector("form [aria-invalid=true]");
    if (invalid) { invalid.focus(); }
  });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); markCurrent(); });
  // after the panel is loaded or an action answered, keyboard users continue from the case's title
  document.addEventListener("htmx:afterSwap", function (event) {
    var id = event.detail.target && event.detail.target.id;
    if (id !== "desk-detail" && id !== "desk-case") { return; }
    var invalid = document.querySelector("#desk-case [aria-invalid=true]");
    var title = document.getElementById("case-title");
    if (invalid) { invalid.focus(); } else if (title) { title.focus(); }
  });
})();
