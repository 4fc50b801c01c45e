/* The fleet overview, live: a change that alters what a row shows re-renders that row from the
   server (one template for the first render and every update); a charge point not on the page
   yet (a new charger) re-renders the table with the counts; counts follow within a second. */
(function () {
  "use strict";
  var pending = {}, tableTimer = null;

  function table() { return document.getElementById("fleet-table"); }
  function filterQuery() {
    var form = document.querySelector("form.filters");
    return form ? "?" + new URLSearchParams(new FormData(form)).toString() : "";
  }
  function refreshTable() {
    if (tableTimer) return;
    tableTimer = setTimeout(function () {
      tableTimer = null;
      htmx.ajax("GET", "/fleet/table" + filterQuery(), { target: "#fleet-table", swap: "outerHTML" });
    }, 150);
  }
  function refreshRow(cp) {
    if (pending[cp]) return;
    pending[cp] = setTimeout(function () {
      delete pending[cp];
      var row = document.getElementById("row-" + cp);
      if (!row) return refreshTable();
      var checked = row.querySelector('input[name="selected"]');
      var wasChecked = checked && checked.checked;
      htmx.ajax("GET", row.dataset.rowUrl, { target: row, swap: "outerHTML" }).then(function () {
        var fresh = document.getElementById("row-" + cp);
        var box = fresh && fresh.querySelector('input[name="selected"]');
        if (box && wasChecked) box.checked = true;
        if (fresh) fresh.classList.add("flash");
      });
    }, 100);
  }

  document.addEventListener("dp-changes", function (event) {
    var t = table();
    if (!t) return;
    var rowPaths = (t.dataset.rowPaths || "").split(",");
    var countsChanged = false;
    Object.keys(event.detail).forEach(function (dp) {
      var cp = dp.split("-")[0];
      if (!document.getElementById("row-" + cp)) { refreshTable(); return; }
      var relevant = event.detail[dp].some(function (c) { return rowPaths.indexOf(c[0]) >= 0; });
      if (relevant) { refreshRow(cp); countsChanged = true; }
    });
    if (countsChanged) refreshCounts();
  });

  var countsTimer = null;
  function refreshCounts() {
    if (countsTimer) return;
    countsTimer = setTimeout(function () {
      countsTimer = null;
      fetch("/fleet/table" + filterQuery(), { headers: { "HX-Request": "true" } }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var counts = doc.querySelector(".counts"), current = document.querySelector("#fleet-table .counts");
        if (counts && current) current.replaceWith(counts);
      });
    }, 400);
  }
  /* After a reconnect the page may have missed changes: render the table again. */
  var opened = false;
  document.addEventListener("live-open", function () { if (opened) refreshTable(); opened = true; });
})();
