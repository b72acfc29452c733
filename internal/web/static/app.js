// phoneboot dashboard: live updates. The page names its server-sent
// event stream in <body data-live="/live…">; each "changed" event makes
// the parts marked hx-trigger="phoneboot:changed from:body" ask the
// server for themselves again (htmx). No data travels in the stream.
(function () {
  "use strict";
  var url = document.body.dataset.live;
  var status = document.getElementById("live-status");
  if (!url || !window.EventSource) {
    if (status) status.textContent = "live: off (reload to refresh)";
    return;
  }
  function say(text, cls) {
    if (!status) return;
    status.textContent = text;
    status.className = "live-status " + (cls || "");
  }
  var es = new EventSource(url);
  var updates = 0;
  es.addEventListener("open", function () { say("live", "on"); });
  es.addEventListener("error", function () { say("live: reconnecting…", "off"); });
  es.addEventListener("changed", function () {
    updates++;
    say("live · updated " + new Date().toLocaleTimeString(), "on");
    document.body.dataset.updates = String(updates);
    if (window.htmx) window.htmx.trigger(document.body, "phoneboot:changed");
  });
})();
