/* The charge point page's power chart (uPlot, vendored): one stepped line per connector over the
   last 24 h, from the elements' history; new values arrive through the panel's live feed
   (live.js "dp-changes") and are appended, and the window slides with them. */
(function () {
  "use strict";
  var el = document.getElementById("power-chart");
  if (!el || !window.uPlot) return;
  var data = JSON.parse(el.dataset.series);
  var colours = ["#2f5d8a", "#b5562b", "#3d7a3d", "#7a4d8a", "#8a7a2f", "#2f8a84"];
  var lines = data.series.map(function (s) { return { dp: s.dp, x: s.x.slice(), y: s.y.slice() }; });
  var grey = { stroke: "#6b6b68", grid: { stroke: "#e4e4e2" } };
  function width() { return Math.max(300, el.clientWidth - 10); }
  function joined() {
    var now = Date.now() / 1000, since = now - 24 * 3600;
    var tables = lines.map(function (l) {
      var xs = [], ys = [];
      l.x.forEach(function (x, i) { if (x >= since) { xs.push(x); ys.push(l.y[i]); } });
      if (xs.length) { xs.push(now); ys.push(ys[ys.length - 1]); }  /* held until now */
      return [xs, ys];
    }).filter(function (t) { return t[0].length; });
    return tables.length ? uPlot.join(tables) : [[now], [null]];
  }
  var series = [{}].concat(lines.map(function (l, i) {
    return { label: l.dp.split("-").pop() === l.dp ? l.dp : "connector " + l.dp.split("-").pop(), stroke: colours[i % colours.length], width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false }, spanGaps: true };
  }));
  var plot = new uPlot({
    width: width(), height: 220,
    scales: { y: { range: function (u, lo, hi) { return [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1]; } } },
    series: series,
    axes: [grey, Object.assign({ label: "kW" }, grey)],
  }, joined(), el);
  window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 220 }); });
  document.addEventListener("dp-changes", function (event) {
    var changed = false;
    lines.forEach(function (l) {
      (event.detail[l.dp] || []).forEach(function (change) {
        if (change[0] === data.path && typeof change[1] === "number") {
          l.x.push(Date.parse(change[2]) / 1000); l.y.push(change[1]); changed = true;
        }
      });
    });
    if (changed) plot.setData(joined());
  });
})();
