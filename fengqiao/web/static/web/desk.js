/* The desk's small helpers: a text filter over a category select, and picking a point on the grid map. */
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

  function bindMap(root) {
    root.querySelectorAll("svg[data-grid-map]").forEach(function (svg) {
      if (svg.dataset.bound) { return; }
      svg.dataset.bound = "1";
      var west = parseFloat(svg.dataset.west), north = parseFloat(svg.dataset.north);
      var sx = parseFloat(svg.dataset.sx), sy = parseFloat(svg.dataset.sy);
      var lon = document.getElementById(svg.dataset.lon), lat = document.getElementById(svg.dataset.lat);
      var grid = document.getElementById(svg.dataset.grid), out = document.getElementById(svg.dataset.out);
      var marker = svg.querySelector(".map-marker");

      function place(x, y) { marker.setAttribute("cx", x); marker.setAttribute("cy", y); }
      function fromInputs() {
        var lo = parseFloat(lon.value), la = parseFloat(lat.value);
        if (isFinite(lo) && isFinite(la)) { place((lo - west) * sx, (north - la) * sy); }
      }
      fromInputs();
      lon.addEventListener("change", fromInputs);
      lat.addEventListener("change", fromInputs);

      svg.addEventListener("click", function (event) {
        var point = svg.createSVGPoint();
        point.x = event.clientX;
        point.y = event.clientY;
        var p = point.matrixTransform(svg.getScreenCTM().inverse());
        lon.value = (west + p.x / sx).toFixed(6);
        lat.value = (north - p.y / sy).toFixed(6);
        place(p.x, p.y);
        // the point decides the grid; a grid chosen by hand could disagree with it
        if (grid) { grid.value = ""; }
        var target = event.target.closest ? event.target.closest("path") : null;
        if (out) { out.textContent = target ? target.dataset.name + " (" + target.dataset.code + ")" : ""; }
      });
    });
  }

  function init(root) { bindFilters(root); bindMap(root); }
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
