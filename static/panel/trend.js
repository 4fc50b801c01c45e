/* A numeric element's trend over the chosen range, drawn with uPlot (vendored). Steps, because an
   element holds its value until the next change. */
(function () {
  "use strict";
  var el = document.getElementById("trend");
  if (!el || !window.uPlot) return;
  var points = JSON.parse(el.dataset.series);
  var xs = points.map(function (p) { return p[0]; }), ys = points.map(function (p) { return p[1]; });
  var now = Date.now() / 1000;
  if (xs.length && xs[xs.length - 1] < now) { xs.push(now); ys.push(ys[ys.length - 1]); }  /* held until now */
  function width() { return Math.max(300, el.clientWidth - 10); }
  var plot = new uPlot({
    width: width(), height: 260,
    series: [{}, { label: el.dataset.label, stroke: "#4a5a6a", width: 1.5, paths: uPlot.paths.stepped({ align: 1 }), points: { show: xs.length < 60 } }],
    axes: [{ stroke: "#6b6b68", grid: { stroke: "#e4e4e2" } }, { stroke: "#6b6b68", grid: { stroke: "#e4e4e2" } }],
  }, [xs, ys], el);
  window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 260 }); });
})();
