// Welkin portal: the little behaviour pages need beyond server rendering. Loaded on every page (no inline script:
// the content-security policy allows scripts from this origin only).
(function () {
    "use strict";

    // Live job progress: an element with data-live-job="/jobs/ID/state" is kept up to date while the job runs; when it
    // finishes the page reloads to show the outcome the server renders.
    function follow(element) {
        element.dataset.following = "yes";
        var url = element.dataset.liveJob;
        var progress = element.querySelector("progress");
        var status = element.querySelector("[data-job-status]");
        var state = element.querySelector("[data-job-state]");
        function tick() {
            if (!document.body.contains(element)) {
                return;
            }
            fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
                .then(function (response) { return response.ok ? response.json() : null; })
                .then(function (job) {
                    if (!job) {
                        return;
                    }
                    if (progress) { progress.value = job.progress; progress.textContent = job.progress + " %"; }
                    if (status) { status.textContent = job.progress + " % " + (job.message || ""); }
                    if (state) { state.textContent = job.state; }
                    if (job.finished) {
                        window.location.reload();
                    } else {
                        window.setTimeout(tick, 500);
                    }
                })
                .catch(function () { window.setTimeout(tick, 2000); });
        }
        window.setTimeout(tick, 300);
    }

    // Pages arrive by full loads and by Blazor's enhanced navigation: look for new live elements now and then.
    function scan() {
        document.querySelectorAll("[data-live-job]:not([data-following])").forEach(follow);
    }
    scan();
    window.setInterval(scan, 400);
})();
