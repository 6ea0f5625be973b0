// Administration screens: after a failed save or a file check, move the keyboard and screen-reader
// focus to the summary of what happened (no inline script: the CSP forbids it).
document.addEventListener("DOMContentLoaded", function () {
  var target = document.getElementById("form-errors") || document.getElementById("result-title");
  if (target) { target.focus(); }
});
