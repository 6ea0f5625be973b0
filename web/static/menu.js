// The portal's menu on a narrow screen: folded behind the "Menu" button (a real button with
// aria-expanded). Without JavaScript the button stays hidden and the menu simply stays open.
(function () {
  "use strict";
  var menu = document.getElementById("menu");
  if (!menu) { return; }
  var button = menu.querySelector(".menu-toggle");
  var items = document.getElementById("menu-items");
  if (!button || !items) { return; }
  var narrow = window.matchMedia("(max-width: 800px)");
  function set(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("folded", !open);
  }
  function sync() {
    // Folded by default on a phone, always open on a wide screen.
    set(!narrow.matches);
  }
  button.hidden = false;
  menu.classList.add("foldable");
  button.addEventListener("click", function () {
    set(button.getAttribute("aria-expanded") !== "true");
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && narrow.matches && button.getAttribute("aria-expanded") === "true") {
      set(false);
      button.focus();
    }
  });
  if (narrow.addEventListener) { narrow.addEventListener("change", sync); }
  sync();
}());
