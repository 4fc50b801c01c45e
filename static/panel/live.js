/* The panel's live feed: one websocket (/ws/panel/) carries every element change of the charge
   points this user may see. Cells marked data-dp + data-path take new values at once; pages listen
   to the "dp-changes" event for more (fleet.js re-renders rows, the charge point page its tree). */
(function () {
  "use strict";
  var indicator = document.getElementById("live");
  var retry = 500;

  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function localTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  function showTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (t) { t.textContent = localTime(t.getAttribute("datetime")); });
  }
  function show(value) {  /* the same as panel/templatetags/panel.py `show` */
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "object") {
      var text = JSON.stringify(value).replace(/,"/g, ', "').replace(/":/g, '": ');
      return text.length <= 160 ? text : text.slice(0, 159) + "…";
    }
    return String(value);
  }
  function flash(el) { el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash"); }
  function setCell(el, value) {
    if (el.dataset.format === "time" && value) {
      el.innerHTML = "";
      var t = document.createElement("time");
      t.setAttribute("datetime", value);
      t.textContent = localTime(value);
      el.appendChild(t);
    } else {
      el.textContent = show(value);
    }
    flash(el);
  }

  function apply(changes) {
    Object.keys(changes).forEach(function (dp) {
      changes[dp].forEach(function (change) {
        var path = change[0], value = change[1], at = change[2];
        document.querySelectorAll('[data-dp="' + CSS.escape(dp) + '"][data-path="' + CSS.escape(path) + '"]').forEach(function (el) {
          if (el.dataset.part === "changed") { el.dataset.format = "time"; setCell(el, at); }  /* the time of the change */
          else setCell(el, value);
        });
      });
    });
    document.dispatchEvent(new CustomEvent("dp-changes", { detail: changes }));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + document.body.dataset.liveUrl);
    socket.onopen = function () { retry = 500; if (indicator) { indicator.textContent = "live"; indicator.classList.remove("down"); } document.dispatchEvent(new CustomEvent("live-open")); };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "changes") apply(message.changes);
    };
    socket.onclose = function (event) {
      if (indicator) { indicator.textContent = event.code === 4401 ? "logged out: reload" : "reconnecting…"; indicator.classList.add("down"); }
      if (event.code === 4401) return;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  window.panelLive = { showTimes: showTimes, localTime: localTime, apply: apply };
  document.addEventListener("htmx:afterSwap", function (e) { showTimes(e.target); });
  showTimes(document);
  connect();
})();
