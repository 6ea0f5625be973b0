// Appels en cours: live rows through server-sent events, durations ticking every second.
// Without EventSource the page reloads every 15 s, as the guide says. Times and names come formatted by
// the server (the user's time zone and the portal's date format), never from the browser's clock zone.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var tbody = box.querySelector("tbody");
  function fmt(s) {
    s = Math.max(0, Math.floor(s));
    return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m" + (s % 60) + "s";
  }
  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;  // never innerHTML: caller data is hostile
    if (cls) { td.className = cls; }
    return td;
  }
  function render(calls) {
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    if (!calls.length) {
      var tr = document.createElement("tr");
      var td = cell(box.getAttribute("data-empty"));
      td.colSpan = 6;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    calls.forEach(function (c) {
      var tr = document.createElement("tr");
      var dur = cell(fmt(c.seconds), "dur");
      dur.setAttribute("data-start", c.started);
      [cell(c.started_text, "when"), dur, cell(c.source), cell(c.destination), cell(c.source_ip), cell(c.destination_ip)]
        .forEach(function (td) { tr.appendChild(td); });
      tbody.appendChild(tr);
    });
  }
  function tick() {
    var now = Date.now();
    box.querySelectorAll("td.dur[data-start]").forEach(function (td) {
      td.textContent = fmt((now - Date.parse(td.getAttribute("data-start"))) / 1000);
    });
  }
  setInterval(tick, 1000);
  if (window.EventSource) {
    var es = new EventSource(box.getAttribute("data-stream"));
    es.addEventListener("calls", function (e) { render(JSON.parse(e.data)); });
  } else {
    setTimeout(function () { window.location.reload(); }, 15000);
  }
}());
