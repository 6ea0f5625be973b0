// SMS screen: live character counter with the number of SMS parts (GSM-7 160/153, UCS-2 70/67),
// the same rule as control/sms.py segments().
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿" +
    "abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€\f";

  function segments(text) {
    var gsm = true, septets = 0, i, c;
    for (i = 0; i < text.length; i++) {
      c = text.charAt(i);
      if (EXTENDED.indexOf(c) >= 0) { septets += 2; } else if (BASIC.indexOf(c) >= 0) { septets += 1; } else { gsm = false; break; }
    }
    var units = gsm ? septets : text.length; // JS strings are UTF-16 code units
    var single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
    if (units <= single) { return { gsm: gsm, units: units, count: units ? 1 : 0, per: single }; }
    return { gsm: gsm, units: units, count: Math.ceil(units / multi), per: multi };
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, k) { return String(values[k]); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.getElementById("image"), chosen = document.getElementById("image-name");
    if (picker && chosen) {
      var none = chosen.textContent;
      picker.addEventListener("change", function () {
        chosen.textContent = picker.files && picker.files.length ? picker.files[0].name : none;
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.getElementById("body"), out = document.getElementById("sms-counter");
    if (!body || !out) { return; }
    function update() {
      var text = body.value.replace(/\r\n?/g, "\n"), s = segments(text);
      out.textContent = fill(s.gsm ? out.dataset.tGsm : out.dataset.tUcs, { chars: s.units, parts: s.count, per: s.per });
      // The same rule as the server (control/sms.py body_limit): characters, and on some paths UTF-8 bytes.
      var over = text.length > Number(out.dataset.max || 1600) ||
        (out.dataset.maxBytes && new TextEncoder().encode(text).length > Number(out.dataset.maxBytes));
      out.classList.toggle("over", !!over);
      if (over) { out.textContent += " — " + out.dataset.tOver; }
    }
    body.addEventListener("input", update);
    update();
  });
}());
