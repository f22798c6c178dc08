// Leerlingbus — enhancements only: every page works without this script.
(function () {
  "use strict";

  // Loading progress that updates itself: poll the page's progress URL (same
  // origin, session cookie) and reload once the status changes.
  function pollProgress(block) {
    var url = block.getAttribute("data-poll");
    var status = block.getAttribute("data-status");
    var unit = block.getAttribute("data-unit") || "rijen";
    var bar = block.querySelector("progress");
    var text = block.querySelector("[data-progress-text]");
    var stopped = false;
    function tick() {
      if (stopped) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          if (r.redirected || !r.ok) { throw new Error("status " + r.status); }
          return r.json();
        })
        .then(function (p) {
          if (p.status !== status) { stopped = true; window.location.reload(); return; }
          if (p.total) { bar.max = p.total; bar.value = p.done; }
          var label = p.label || p.status;
          if (p.total) { label += ": " + fmt(p.done) + " van " + fmt(p.total) + " " + unit; }
          else if (p.done) { label += ": " + fmt(p.done) + " " + unit; }
          text.textContent = label;
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 700);
  }

  function fmt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "."); }

  // A table that filters its shown rows as you type (the server search with
  // "Zoek" still covers every page).
  function filterTable(input) {
    var table = document.getElementById(input.getAttribute("data-filter-table"));
    if (!table) { return; }
    var rows = table.tBodies[0] ? Array.prototype.slice.call(table.tBodies[0].rows) : [];
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      rows.forEach(function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) === -1;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), pollProgress);
    Array.prototype.forEach.call(document.querySelectorAll("[data-filter-table]"), filterTable);
  });
})();
