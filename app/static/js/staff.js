// Faultline staff pages: small behaviours wired by data attributes, no build step, no inline
// scripts (the pages' Content-Security-Policy forbids them).
//
//   <button data-copy-target="ID">       copies the value (or text) of element ID
//   <table data-poll-url="URL" data-poll-collection="NAME">
//     <tr data-poll-key="KEY"> <td data-poll-field="FIELD">
//                                        every 5 s, GET URL (JSON) and set each cell's text to
//                                        json[NAME][KEY][FIELD]; json[NAME][KEY].css becomes the
//                                        row's data-status
//   <form data-confirm="QUESTION">       asks before posting (revoking an invite)
//   <form data-assessment-form>          numbers the ticked challenges in the order they were
//                                        ticked (hidden #challenge-order) and shows the default
//                                        time limit
(function () {
  "use strict";

  const POLL_MS = 5000;
  const COPIED_MS = 2000;

  // ---- copy a link ---------------------------------------------------------------------------

  function copyWithSelection(text) {
    const scratch = document.createElement("textarea");
    scratch.value = text;
    scratch.setAttribute("readonly", "");
    scratch.className = "visually-hidden";
    document.body.appendChild(scratch);
    scratch.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (err) {
      copied = false;
    }
    scratch.remove();
    return copied;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (err) {
        // fall through to the selection fallback
      }
    }
    return copyWithSelection(text);
  }

  function showForManualCopy(source) {
    source.hidden = false;
    source.focus();
    if (typeof source.select === "function") source.select();
  }

  function setUpCopyButtons() {
    document.querySelectorAll("[data-copy-target]").forEach((button) => {
      const label = button.textContent;
      button.addEventListener("click", async () => {
        const source = document.getElementById(button.dataset.copyTarget);
        if (!source) return;
        const text = "value" in source ? source.value : source.textContent;
        if (await copyText(text)) {
          button.textContent = "Copied";
          window.setTimeout(() => {
            button.textContent = label;
          }, COPIED_MS);
        } else {
          button.textContent = "Press Ctrl+C";
          showForManualCopy(source);
        }
      });
    });
  }

  // ---- live statuses -------------------------------------------------------------------------

  function applyUpdate(table, items) {
    table.querySelectorAll("[data-poll-key]").forEach((row) => {
      const item = items[row.dataset.pollKey];
      if (!item) return;
      if (typeof item.css === "string") row.dataset.status = item.css;
      row.querySelectorAll("[data-poll-field]").forEach((cell) => {
        const value = item[cell.dataset.pollField];
        if (value !== undefined && value !== null) cell.textContent = String(value);
      });
    });
  }

  function startPolling(table) {
    const url = table.dataset.pollUrl;
    const collection = table.dataset.pollCollection;
    let timer = null;
    async function poll() {
      if (document.hidden) return;
      let response;
      try {
        response = await fetch(url, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
      } catch (err) {
        return; // offline for a moment: try again at the next tick
      }
      if ([401, 403, 404].includes(response.status)) {
        window.clearInterval(timer); // logged out or gone: stop asking
        return;
      }
      if (!response.ok) return;
      try {
        const data = await response.json();
        applyUpdate(table, (collection ? data[collection] : data) || {});
      } catch (err) {
        // not JSON (a proxy's error page): ignore this tick
      }
    }
    timer = window.setInterval(poll, POLL_MS);
  }

  // ---- the new-assessment form ---------------------------------------------------------------

  function setUpAssessmentForm(form) {
    const orderField = form.querySelector("#challenge-order");
    const limitField = form.querySelector("#time-limit");
    const boxes = Array.from(form.querySelectorAll('input[type="checkbox"][name="challenges"]'));
    const saved = (orderField && orderField.value ? orderField.value.split(",") : []).filter(
      (id) => boxes.some((box) => box.checked && box.value === id)
    );
    const order = saved.concat(
      boxes.filter((box) => box.checked && !saved.includes(box.value)).map((box) => box.value)
    );

    function render() {
      if (orderField) orderField.value = order.join(",");
      let minutes = 0;
      boxes.forEach((box) => {
        const position = order.indexOf(box.value);
        const badge = box.closest("label").querySelector(".choice-position");
        if (badge) badge.textContent = position >= 0 ? String(position + 1) : "";
        if (box.checked) minutes += Number(box.dataset.minutes || 0);
      });
      if (limitField) {
        limitField.placeholder = minutes
          ? `${minutes} (the sum of the chosen challenges)`
          : "the sum of the chosen challenges";
      }
    }

    boxes.forEach((box) => {
      box.addEventListener("change", () => {
        const at = order.indexOf(box.value);
        if (box.checked && at < 0) order.push(box.value);
        if (!box.checked && at >= 0) order.splice(at, 1);
        render();
      });
    });
    render();
  }

  document.addEventListener("submit", (event) => {
    const question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", () => {
    setUpCopyButtons();
    document.querySelectorAll("[data-poll-url]").forEach(startPolling);
    document.querySelectorAll("[data-assessment-form]").forEach(setUpAssessmentForm);
  });
})();
