/* The sessions pages, live, and their charts, drawn with uPlot (vendored):
   #daily         kWh per day of the listed sessions, as bars, days in the page's time zone;
   #session-chart a session's power (kW, left axis) and energy (kWh, right axis) from its
                  connector's history; while the session runs, new values arrive through the
                  panel's live feed (live.js "dp-changes") and are appended. */
(function () {
  "use strict";
  var grey = { stroke: "#6b6b68", grid: { stroke: "#e4e4e2" } };
  function width(el) { return Math.max(300, el.clientWidth - 10); }
  function resizing(plot, el, height) {
    window.addEventListener("resize", function () { plot.setSize({ width: width(el), height: height }); });
  }
  function fromZero(u, lo, hi) { return [Math.min(0, lo), hi > 0 ? hi * 1.1 : 1]; }  /* bars and meters start at 0 */
  function zoned(zone) {
    return zone ? function (ts) { return uPlot.tzDate(new Date(ts * 1e3), zone); } : undefined;
  }

  function daily(el) {
    var points = JSON.parse(el.dataset.series);
    var xs = points.map(function (p) { return p[0]; }), ys = points.map(function (p) { return p[1]; });
    var toDate = zoned(el.dataset.zone) || function (ts) { return new Date(ts * 1e3); };
    var dayText = uPlot.fmtDate("{YYYY}-{MM}-{DD}");
    var dayAxis = Object.assign({
      incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400, 365 * 86400],  /* days, never hours */
      values: function (u, splits) { return splits.map(function (ts) { return dayText(toDate(ts)); }); },
    }, grey);
    var plot = new uPlot({
      width: width(el), height: 200, tzDate: zoned(el.dataset.zone), legend: { show: false },
      scales: {
        x: { time: true, range: function (u, lo, hi) { return [lo - 86400, hi + 86400]; } },
        y: { range: fromZero },
      },
      series: [{}, { label: "kWh", stroke: "#2f5d8a", fill: "rgba(47,93,138,.55)", paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } }],
      axes: [dayAxis, Object.assign({ label: "kWh" }, grey)],
    }, [xs, ys], el);
    resizing(plot, el, 200);
  }

  function session(el) {
    var data = JSON.parse(el.dataset.series);
    var power = data.power, energy = data.energy;
    /* one x axis: the union of both series' times, each series null where it has no value */
    function aligned() {
      var times = {}, i;
      power.forEach(function (p) { times[p[0]] = true; });
      energy.forEach(function (p) { times[p[0]] = true; });
      var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
      var pw = {}, en = {};
      for (i = 0; i < power.length; i++) pw[power[i][0]] = power[i][1];
      for (i = 0; i < energy.length; i++) en[energy[i][0]] = energy[i][1];
      return [xs, xs.map(function (x) { return x in pw ? pw[x] : null; }), xs.map(function (x) { return x in en ? en[x] : null; })];
    }
    var plot = new uPlot({
      width: width(el), height: 300, tzDate: zoned(el.dataset.zone),
      scales: { kW: { range: fromZero }, kWh: { range: fromZero } },
      series: [
        {},
        { label: "Power (kW)", scale: "kW", stroke: "#c0392b", width: 1.5, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }) },
        { label: "Energy (kWh)", scale: "kWh", stroke: "#2f5d8a", width: 2, spanGaps: true },
      ],
      axes: [Object.assign({ space: 90 }, grey), Object.assign({ scale: "kW", label: "kW" }, grey), { scale: "kWh", label: "kWh", side: 1, stroke: "#6b6b68", grid: { show: false } }],
    }, aligned(), el);
    resizing(plot, el, 300);
    el.plot = plot;
    if (el.dataset.live !== "1") return;
    var dp = el.dataset.dp, powerPath = el.dataset.powerPath, energyPath = el.dataset.energyPath;
    document.addEventListener("dp-changes", function (event) {
      var changes = event.detail[dp];
      if (!changes) return;
      var grew = false;
      changes.forEach(function (change) {
        var path = change[0], value = change[1], at = new Date(change[2]).getTime() / 1000;
        if (typeof value !== "number" || isNaN(at)) return;
        if (path === powerPath) { power.push([at, value]); grew = true; }
        if (path === energyPath) { energy.push([at, value]); grew = true; }
      });
      if (grew) plot.setData(aligned());
    });
  }

  /* The list: a session that starts or stops on a charger this user sees (its connector's
     Transaction.CurrentTransactionId changes) fetches the table again, with the page's filters;
     a running session's kWh cell follows the live feed by itself (live.js, data-dp/data-path). */
  var tableTimer = null;
  document.addEventListener("dp-changes", function (event) {
    var table = document.getElementById("sessions-table");
    if (!table || tableTimer) return;
    var started = Object.keys(event.detail).some(function (dp) {
      return event.detail[dp].some(function (change) { return change[0] === "Transaction.CurrentTransactionId"; });
    });
    if (!started) return;
    tableTimer = setTimeout(function () {
      tableTimer = null;
      htmx.ajax("GET", table.dataset.tableUrl + location.search, { target: "#sessions-table", swap: "outerHTML" });
    }, 300);
  });

  if (!window.uPlot) return;
  var d = document.getElementById("daily");
  if (d) daily(d);
  var s = document.getElementById("session-chart");
  if (s) session(s);
})();
