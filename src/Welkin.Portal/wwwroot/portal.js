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
        function stopped(text) {
            element.dataset.jobStopped = "yes";
            if (status) { status.textContent = text; }
        }
        function tick() {
            if (!document.body.contains(element)) {
                return;
            }
            fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
                .then(function (response) {
                    if (response.ok) {
                        return response.json();
                    }
                    // Say why the progress stopped: a session ended (signed out in another tab, or timed out), a job
                    // no longer there for this person, or a server that does not answer now (then keep trying).
                    if (response.status === 401) {
                        stopped("Your session has ended: sign in again to follow this job.");
                    } else if (response.status === 403 || response.status === 404) {
                        stopped("This job can no longer be followed from this session.");
                    } else {
                        if (status) { status.textContent = "The portal did not answer (HTTP " + response.status + "); trying again."; }
                        window.setTimeout(tick, 2000);
                    }
                    return null;
                })
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
