// gatehouse portal: copy a secret shown once (an API key, recovery
// codes) to the clipboard. Without it the text is still there to select.
(function () {
  "use strict";

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    var status = button.closest("section").querySelector("[data-copy-status]");
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = target.tagName === "OL" || target.tagName === "UL"
        ? Array.prototype.map.call(target.querySelectorAll("li"), function (li) { return li.textContent.trim(); }).join("\n")
        : target.textContent.trim();
      navigator.clipboard.writeText(text).then(function () {
        if (status) status.textContent = button.getAttribute("data-msg-copied");
      }, function () {
        if (status) status.textContent = button.getAttribute("data-msg-failed");
        var range = document.createRange();
        range.selectNodeContents(target);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      });
    });
  });
})();
