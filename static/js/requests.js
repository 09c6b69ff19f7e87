// Request pages: filter the staff table as you type, "select all" boxes, live counts, and the
// district list switched off when "whole city" is ticked. Everything works without it.
(function () {
  "use strict";

  // Same folding as the server's search_text: lower case, no accents, đ → d.
  function fold(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d")
      .replace(/\s+/g, " ").trim();
  }

  function boxes(name) {
    return Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][name="' + name + '"]'));
  }

  function visible(box) {
    var row = box.closest("tr");
    return !row || !row.hidden;
  }

  function updateCount(name) {
    var out = document.querySelector('[data-selected-count="' + name + '"]');
    var all = boxes(name);
    var n = all.filter(function (b) { return b.checked; }).length;
    if (out) {
      out.textContent = out.getAttribute("data-template").replace("{n}", n).replace("{total}", all.length);
    }
    var master = document.querySelector('[data-select-all="' + name + '"]');
    if (master) {
      var shown = all.filter(visible);
      var ticked = shown.filter(function (b) { return b.checked; }).length;
      master.checked = shown.length > 0 && ticked === shown.length;
      master.indeterminate = ticked > 0 && ticked < shown.length;
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-select-all]"), function (master) {
    var name = master.getAttribute("data-select-all");
    master.addEventListener("change", function () {
      boxes(name).filter(visible).forEach(function (b) { b.checked = master.checked; });
      updateCount(name);
    });
    boxes(name).forEach(function (b) { b.addEventListener("change", function () { updateCount(name); }); });
    updateCount(name);
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-staff-filter]"), function (input) {
    var table = document.getElementById(input.getAttribute("data-staff-filter"));
    if (!table) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-search]"));
    function apply() {
      var words = fold(input.value).split(" ").filter(Boolean);
      rows.forEach(function (row) {
        var hay = row.getAttribute("data-search");
        row.hidden = !words.every(function (w) { return hay.indexOf(w) !== -1; });
      });
      updateCount("staff");
    }
    input.addEventListener("input", apply);
    // The filter is live, so Enter must not reload the page and lose the ticks.
    if (input.form) {
      input.form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
    }
  });

  var whole = document.querySelector('input[name="whole_city"]');
  var areas = document.querySelector("[data-areas]");
  if (whole && areas) {
    var sync = function () { areas.disabled = whole.checked; };
    whole.addEventListener("change", sync);
    sync();
  }
})();
