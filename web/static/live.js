// Appels en cours: the list kept current through server-sent events. The stream sends the whole list
// once ("calls"), then only what changed ("delta": rows added or changed, ids of calls that ended).
// The page shows the most recent data-rows calls that match the search box, and how many more there
// are. Without EventSource (or when the stream is refused) the page reloads every 15 s, as the guide
// says. Times and names come formatted by the server (the user's time zone and the portal's date
// format), never from the browser's clock zone.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) { return; }
  var tbody = box.querySelector("tbody");
  var more = document.getElementById("live-more");
  var search = document.getElementById("q");
  var limit = parseInt(box.getAttribute("data-rows"), 10) || 200;
  var calls = new Map();
  var pending = false;
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
  function matches(c, needle) {
    if (!needle) { return true; }
    return [c.source, c.destination, c.source_ip, c.destination_ip].some(function (v) {
      return String(v || "").toLowerCase().indexOf(needle) !== -1;
    });
  }
  function render() {
    pending = false;
    var needle = search ? search.value.trim().toLowerCase() : "";
    var list = [];
    calls.forEach(function (c) { if (matches(c, needle)) { list.push(c); } });
    list.sort(function (a, b) { return a.started < b.started ? 1 : (a.started > b.started ? -1 : 0); });
    var shown = list.slice(0, limit);
    var frag = document.createDocumentFragment();
    var now = Date.now();
    shown.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-id", c.id);
      var dur = cell(fmt((now - Date.parse(c.started)) / 1000), "dur");
      dur.setAttribute("data-start", c.started);
      [cell(c.started_text, "when"), dur, cell(c.source), cell(c.destination), cell(c.source_ip), cell(c.destination_ip)]
        .forEach(function (td) { tr.appendChild(td); });
      frag.appendChild(tr);
    });
    if (!shown.length) {
      var tr = document.createElement("tr");
      tr.className = "none";
      var td = cell(box.getAttribute("data-empty"));
      td.colSpan = 6;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    tbody.appendChild(frag);
    if (more) {
      more.hidden = list.length <= shown.length;
      more.textContent = box.getAttribute("data-more").replace("{shown}", shown.length).replace("{total}", list.length);
    }
  }
  function later() {
    if (!pending) { pending = true; window.requestAnimationFrame(render); }
  }
  function tick() {
    var now = Date.now();
    box.querySelectorAll("td.dur[data-start]").forEach(function (td) {
      td.textContent = fmt((now - Date.parse(td.getAttribute("data-start"))) / 1000);
    });
  }
  setInterval(tick, 1000);
  function fallback() { setTimeout(function () { window.location.reload(); }, 15000); }
  if (!window.EventSource) { fallback(); return; }
  var es = new EventSource(box.getAttribute("data-stream"));
  es.addEventListener("calls", function (e) {
    calls = new Map();
    JSON.parse(e.data).forEach(function (c) { calls.set(c.id, c); });
    box.setAttribute("data-version", e.lastEventId || "");
    later();
  });
  es.addEventListener("delta", function (e) {
    var d = JSON.parse(e.data);
    d.remove.forEach(function (id) { calls.delete(id); });
    d.upsert.forEach(function (c) { calls.set(c.id, c); });
    box.setAttribute("data-version", e.lastEventId || "");
    later();
  });
  es.addEventListener("error", function () {
    if (es.readyState === EventSource.CLOSED) { fallback(); }  // refused (signed out): the guide's reload
  });
  if (search) { search.addEventListener("input", later); }
}());
