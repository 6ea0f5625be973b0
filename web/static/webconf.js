// Conférence en ligne: the "Copy the link" button (shown only when scripts run).
(function () {
  "use strict";
  var button = document.getElementById("copy-link");
  var field = document.getElementById("invite-link");
  var hint = document.getElementById("invite-hint");
  if (!button || !field) { return; }
  button.hidden = false;
  function said(text) { if (hint) { hint.textContent = text; } }
  button.addEventListener("click", function () {
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () {
        said(button.dataset.copied);
      }, function () { said(button.dataset.failed); });
      return;
    }
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    said(ok ? button.dataset.copied : button.dataset.failed);
  });
}());
