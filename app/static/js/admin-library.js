// Faultline admin library pages: plain JavaScript, no build step.
//   <form data-library-confirm="QUESTION">   asks before a destructive POST (retire, delete)
//   <section data-verification-url="URL" data-active="true">
//                                            polls the verification state while it is queued or
//                                            running, shows its progress, and reloads the page
//                                            once it has finished (to show the result table)
(function () {
  "use strict";

  const POLL_MS = 2000;
  const MAX_FAILURES = 5;

  function setUpConfirm(form) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.libraryConfirm)) event.preventDefault();
    });
  }

  function setUpVerification(section) {
    const url = section.dataset.verificationUrl;
    const summary = section.querySelector("#verification-summary");
    const progress = section.querySelector("#verification-progress");
    const badge = section.querySelector("#verification-state .vstate");
    let failures = 0;

    async function poll() {
      let data;
      try {
        const response = await fetch(url, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        data = await response.json();
        failures = 0;
      } catch (error) {
        failures += 1;
        if (progress && failures >= MAX_FAILURES) {
          progress.textContent = "Lost contact with the server; reload the page to see the state.";
          return;
        }
        window.setTimeout(poll, POLL_MS * failures);
        return;
      }
      if (!data.active) {
        window.location.reload();
        return;
      }
      if (summary) summary.textContent = data.summary;
      if (badge && data.state) {
        badge.className = `vstate vstate-${data.state}`;
        badge.textContent = data.state;
      }
      if (progress) {
        progress.textContent =
          data.state === "queued"
            ? "Waiting for a worker (candidates' grading goes first). This page updates itself."
            : `${data.progress || "Starting"}. This page updates itself.`;
      }
      window.setTimeout(poll, POLL_MS);
    }

    if (section.dataset.active === "true") window.setTimeout(poll, POLL_MS);
  }

  function start() {
    document.querySelectorAll("form[data-library-confirm]").forEach(setUpConfirm);
    document.querySelectorAll("[data-verification-url]").forEach(setUpVerification);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
