// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  function enhance(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      var input = root.querySelector("#" + button.getAttribute("data-copy"));
      if (!input || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(input.value).then(function () {
          var status = root.querySelector(".copied");
          if (status) status.textContent = button.getAttribute("data-done");
        }, function () { input.select(); });
      });
    });
    // One event's details open at a time; Escape closes them.
    root.addEventListener("toggle", function (event) {
      var opened = event.target;
      if (!opened.open || !opened.closest || !opened.closest(".ev")) return;
      root.querySelectorAll(".ev details[open]").forEach(function (other) { if (other !== opened) other.open = false; });
    }, true);
    root.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      root.querySelectorAll("details[open]").forEach(function (open) {
        open.open = false;
        var summary = open.querySelector("summary");
        if (summary && open.contains(document.activeElement)) summary.focus();
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    // Arrow keys and "t" step through periods, unless typing in a field.
    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      var tag = (event.target && event.target.tagName) || "";
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (event.target && event.target.isContentEditable)) return;
      if (document.querySelector("details[open]")) return;
      var link = document.querySelector('.nav a[data-key="' + event.key + '"]');
      if (link) { event.preventDefault(); window.location.href = link.href; }
    });
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll(".subscribe[open]").forEach(function (d) { d.open = false; });
    });
  });
})();
