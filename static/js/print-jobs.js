// Polls running print jobs and moves their progress bars; shows the download link when done.
(function () {
  "use strict";
  var items = document.querySelectorAll("[data-job-url]");
  function poll(item) {
    var status = item.getAttribute("data-status");
    if (status === "done" || status === "failed") return;
    fetch(item.getAttribute("data-job-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) return;
        item.setAttribute("data-status", job.status);
        var bar = item.querySelector("[data-job-progress]");
        bar.max = job.total || 1;
        bar.value = job.done;
        item.querySelector("[data-job-count]").textContent = job.done + "/" + job.total;
        var badge = item.querySelector("[data-job-status]");
        badge.className = "status status--" + job.status;
        var label = item.getAttribute("data-label-" + job.status);
        if (label) badge.textContent = label;
        if (job.download) {
          var link = item.querySelector("[data-job-download]");
          link.href = job.download;
          link.hidden = false;
        }
        if (job.status !== "done" && job.status !== "failed") setTimeout(function () { poll(item); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(item); }, 3000); });
  }
  Array.prototype.forEach.call(items, poll);
})();
