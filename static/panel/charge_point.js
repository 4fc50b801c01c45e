/* A charge point's page, live: values arrive through live.js; here the quality follows the
   connection (disconnected: values from the charger turn stale), an element or connector that
   is not on the page yet re-renders the tree, and Config writes ask for a confirmation. */
(function () {
  "use strict";
  var tree = function () { return document.getElementById("cp-tree"); };
  var cp = tree() && tree().dataset.cp;
  var connected = null, treeTimer = null, missed = null;
  var connectedCell = cp && document.querySelector('[data-dp="' + CSS.escape(cp) + '"][data-path="State.Connected"]');
  if (connectedCell) connected = connectedCell.textContent.trim() === "true";

  function setQuality(row, quality) {
    var badge = row.querySelector("[data-quality]");
    if (!badge) return;
    badge.textContent = quality;
    badge.className = "q q-" + (quality === "never written" ? "never" : quality);
    row.className = "quality-" + quality.replace(" ", "-");
  }
  function markConnection(isConnected) {
    connected = isConnected;
    document.querySelectorAll("#cp-tree tr[data-source=charger]").forEach(function (row) {
      var badge = row.querySelector("[data-quality]");
      if (badge && badge.textContent !== "never written") setQuality(row, isConnected ? "good" : "stale");
    });
  }
  function refreshTree() {
    if (treeTimer) return;
    treeTimer = setTimeout(function () {
      treeTimer = null;
      var open = Array.prototype.map.call(document.querySelectorAll("#cp-tree details[open]"), function (d) { return d.id; });
      missed = [];  /* changes that arrive while the new tree is on its way may not be in it */
      htmx.ajax("GET", tree().dataset.treeUrl, { target: "#cp-tree", swap: "outerHTML" }).then(function () {
        document.querySelectorAll("#cp-tree details").forEach(function (d) { d.open = open.indexOf(d.id) >= 0; });
        var again = missed;
        missed = null;
        again.forEach(function (changes) { window.panelLive.apply(changes); });
      });
    }, 200);
  }

  document.addEventListener("dp-changes", function (event) {
    if (missed) missed.push(event.detail);
    Object.keys(event.detail).forEach(function (dp) {
      if (dp.split("-")[0] !== cp) return;
      event.detail[dp].forEach(function (change) {
        var path = change[0];
        if (dp === cp && path === "State.Connected") markConnection(change[1] === true);
        var row = document.querySelector('#cp-tree tr[data-element="' + CSS.escape(dp + "." + path) + '"]');
        if (!row) { refreshTree(); return; }
        if (row.dataset.source === "server" || connected !== false) setQuality(row, "good");
        else setQuality(row, "stale");
      });
    });
  });
  document.addEventListener("live-open", function () { if (connected !== null) refreshTree(); });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form.write") && !window.confirm(form.dataset.confirm + " New value: " + (form.elements.value.value || "(empty)"))) event.preventDefault();
  });
})();
