// jobplane dashboard: progressive enhancement only. Every page works without this script; with it,
// a running execution's log and status follow live over Server-Sent Events, and confirmations ask
// before destructive actions. Text from the server is inserted with textContent, never as HTML.
(function () {
  "use strict";

  // Forms with data-confirm ask first (the server asks again for bulk actions without JavaScript).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });

  // "Select all" for bulk selection.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.getAttribute("data-select-all") + "']").forEach(function (b) { b.checked = box.checked; });
    });
  });

  // A live log: <pre data-live-log="/ui/executions/{id}/stream">. The stream sends "line" events
  // ({stream, text}), "status" events (the execution's status) and "end" when the execution finished.
  var log = document.querySelector("pre[data-live-log]");
  if (log && window.EventSource) {
    var source = new EventSource(log.getAttribute("data-live-log"));
    var state = document.querySelector("[data-live-status]");
    var atBottom = function () { return log.scrollHeight - log.scrollTop - log.clientHeight < 40; };
    source.addEventListener("line", function (e) {
      var line = JSON.parse(e.data);
      var follow = atBottom();
      var span = document.createElement("span");
      if (line.stream === "stderr") span.className = "stderr";
      span.textContent = line.text + "\n";
      log.appendChild(span);
      if (follow) log.scrollTop = log.scrollHeight;
    });
    source.addEventListener("status", function (e) {
      if (!state) return;
      var status = JSON.parse(e.data).status;
      state.textContent = status;
      state.className = "status status-" + status.toLowerCase();
    });
    source.addEventListener("end", function () {
      source.close();
      var live = document.querySelector("[data-live-note]");
      if (live) live.textContent = "The execution has finished; reload for its result and timeline.";
    });
  }
})();
