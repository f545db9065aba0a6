// gatehouse portal: notice by itself when the phone answers or the new
// device is approved.
//
// The page already works without it: its "Check again" button asks the
// portal. This script asks the API instead (GET /v1/login/{flow}, with
// the flow cookie) every two seconds, and goes on to the next page as
// soon as there is one. When the API mints the session it sets the
// session cookie itself.
(function () {
  "use strict";

  var box = document.querySelector("[data-poll-flow]");
  if (!box) return;
  var flow = encodeURIComponent(box.getAttribute("data-poll-flow"));
  var waitingFor = box.getAttribute("data-wait"); // "push" or "device"
  var status = box.querySelector("[data-poll-status]");
  var every = 2000;
  var stopAt = Date.now() + 10 * 60 * 1000; // no flow lives this long
  var failures = 0;

  function stop() {
    if (status) status.textContent = box.getAttribute("data-msg-stopped");
  }

  function next(res, data) {
    if (res.status === 404) return "/login?failed=expired";
    if (res.status !== 200) return null;
    switch (data.status) {
      case "authenticated":
        return "/";
      case "denied":
      case "expired":
        return "/login?failed=" + data.status;
      case "device_approval_required":
        if (waitingFor === "device") return null;
        return "/login/" + flow + "/device" + (data.number ? "?number=" + data.number : "");
    }
    return null;
  }

  function poll() {
    if (Date.now() > stopAt || failures >= 5) {
      stop();
      return;
    }
    fetch("/v1/login/" + flow, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (res) {
        return res.json().then(function (data) { return [res, data || {}]; }, function () { return [res, {}]; });
      })
      .then(function (r) {
        var res = r[0];
        failures = res.status >= 500 || res.status === 429 ? failures + 1 : 0;
        var to = next(res, r[1]);
        if (to) {
          location.assign(to);
          return;
        }
        setTimeout(poll, every * (1 + failures));
      }, function () {
        failures++;
        setTimeout(poll, every * (1 + failures));
      });
  }

  setTimeout(poll, every);
})();
