// Call details' export with a progress bar (issue 24). A streamed export has no Content-Length, so the
// browser's own download shows bytes, not a share. With JavaScript, the page counts the rows first
// (/calls/export/count, same filters), reads the CSV as it streams in, shows "N of M calls" and a
// progress bar, then offers the file (a link, clicked once for the user). Without JavaScript, or when
// the browser cannot read a response as a stream, the link downloads the file directly.
(function () {
  "use strict";
  var link = document.querySelector("a[data-export]");
  var box = document.getElementById("export-progress");
  if (!link || !box || !window.fetch || !window.Blob || !window.URL || !window.TextDecoder) { return; }
  var bar = box.querySelector("progress");
  var status = box.querySelector(".export-status");
  var file = box.querySelector(".export-file");
  var running = false;
  function say(template, done, total) {
    status.textContent = box.getAttribute(template).replace("{done}", done.toLocaleString())
      .replace("{total}", total === null ? "" : total.toLocaleString());
  }
  function fileName(response) {
    var m = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return m ? m[1] : "calls.csv";
  }
  link.addEventListener("click", function (e) {
    if (running) { e.preventDefault(); return; }
    e.preventDefault();
    running = true;
    box.hidden = false;
    file.hidden = true;
    bar.removeAttribute("value");  // indeterminate until the count is known
    var total = null;
    var done = 0;
    fetch(link.getAttribute("data-count"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && typeof d.rows === "number") { total = d.rows; } })
      .catch(function () { /* the count is only for the bar */ });
    fetch(link.href, {credentials: "same-origin"}).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || !response.body || type.indexOf("text/csv") !== 0) {
        window.location.href = link.href;  // a redirect to the page with its message, or an old browser
        running = false;
        box.hidden = true;
        return;
      }
      var reader = response.body.getReader();
      var parts = [];
      var header = true;
      function pump() {
        return reader.read().then(function (step) {
          if (step.done) { return; }
          var chunk = step.value;
          parts.push(chunk);
          for (var i = 0; i < chunk.length; i++) {
            if (chunk[i] === 10) {
              if (header) { header = false; } else { done++; }
            }
          }
          if (total !== null && total > 0) {
            bar.max = total;
            bar.value = Math.min(done, total);
            say("data-running", Math.min(done, total), total);
          } else {
            say("data-counting", done, null);
          }
          return pump();
        });
      }
      return pump().then(function () {
        var url = URL.createObjectURL(new Blob(parts, {type: "text/csv"}));
        file.href = url;
        file.download = fileName(response);
        file.textContent = box.getAttribute("data-save") + " (" + file.download + ")";
        file.hidden = false;
        bar.max = 1;
        bar.value = 1;
        status.textContent = box.getAttribute("data-done").replace("{total}", done.toLocaleString());
        running = false;
        file.click();
      });
    }).catch(function () {
      running = false;
      status.textContent = box.getAttribute("data-failed");
    });
  });
}());
