// Schedulesy widget. In any page:
//   <div data-schedulesy-timetable="KEY" data-view="week"></div>  (or data-schedulesy-room="ID")
//   <script src="https://HOST/embed.js" async></script>
// Each div gets the timetable in a shadow root (its styles and the page's never mix), fills the
// div, and loads its pages from HOST without cookies.
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = new URL(script ? script.src : "/embed.js", document.baseURI).origin;
  var VIEWS = ["week", "day", "month", "list"];

  function fragmentUrl(host) {
    var key = host.getAttribute("data-schedulesy-timetable");
    var room = host.getAttribute("data-schedulesy-room");
    var path = key ? "/embed/timetable/" + encodeURIComponent(key) : "/embed/room/" + encodeURIComponent(room);
    var url = new URL(origin + path);
    var view = (host.getAttribute("data-view") || "").toLowerCase();
    if (VIEWS.indexOf(view) >= 0) url.searchParams.set("view", view);
    var lang = host.getAttribute("data-lang");
    if (lang) url.searchParams.set("lang", lang);
    var date = host.getAttribute("data-date");
    if (date) url.searchParams.set("date", date);
    return url.href;
  }

  function show(host, shadow, url) {
    return fetch(url, { credentials: "omit", mode: "cors" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var box = shadow.querySelector(".box");
        box.innerHTML = html;
      })
      .catch(function () {
        shadow.querySelector(".box").textContent = "Schedulesy: " + url;
      });
  }

  function mount(host) {
    if (host.shadowRoot || host.getAttribute("data-schedulesy-mounted")) return;
    host.setAttribute("data-schedulesy-mounted", "");
    var shadow = host.attachShadow({ mode: "open" });
    shadow.innerHTML = "<style>:host{display:block;overflow:auto;max-width:100%}.box{height:100%}</style><div class=\"box\" aria-live=\"polite\"></div>";
    shadow.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[href]");
      if (!link || link.origin !== origin || link.pathname.indexOf("/embed/") !== 0) return;
      event.preventDefault();
      show(host, shadow, link.href).then(function () {
        var again = shadow.querySelector('.nav a[href="' + link.getAttribute("href") + '"]') || shadow.querySelector(".nav a");
        if (again) again.focus();
      });
    });
    shadow.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      shadow.querySelectorAll("details[open]").forEach(function (open) { open.open = false; });
    });
    show(host, shadow, fragmentUrl(host));
  }

  function mountAll() {
    document.querySelectorAll("[data-schedulesy-timetable],[data-schedulesy-room]").forEach(mount);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
