// Admin operations pages: users, the grading queue, regrades. No inline scripts: the pages
// mark what to do with data-* attributes and this file does it.
(function () {
  "use strict";

  // The labels come from the page (app/formatting.py puts them in base.html).
  const STATUS_LABELS = JSON.parse(document.getElementById("status-labels")?.textContent || "{}");

  // Forms with data-confirm ask before they post: staff.js does that on every staff page.

  function pick(data, path) {
    return path.split(".").reduce(function (value, key) {
      return value === null || value === undefined ? undefined : value[key];
    }, data);
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const secs = seconds % 60;
    const pad = function (n) { return String(n).padStart(2, "0"); };
    if (hours) return hours + " h " + pad(minutes) + " min";
    if (minutes) return minutes + " min " + pad(secs) + " s";
    return secs + " s";
  }

  function time(iso) {
    return iso ? iso.replace("T", " ").replace("Z", " UTC") : "";
  }

  function fillFields(root, data) {
    root.querySelectorAll("[data-field]").forEach(function (element) {
      const value = pick(data, element.getAttribute("data-field"));
      const format = element.getAttribute("data-format");
      if (format === "age") {
        element.textContent = age(value);
      } else if (format === "time") {
        element.textContent = time(value);
      } else {
        element.textContent = value === null || value === undefined ? "—" : String(value);
      }
    });
  }

  function cell(row, text, asCode) {
    const td = document.createElement("td");
    if (asCode) {
      const code = document.createElement("code");
      code.textContent = text;
      td.appendChild(code);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  // Polls url every `seconds` and hands the JSON to update(); stops when update() returns
  // false. Network trouble shows in [data-live-state] and polling carries on.
  function poll(root, url, seconds, update) {
    const live = root.querySelector("[data-live-state]");
    const liveText = live ? live.textContent : "";
    let timer = null;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (live) live.textContent = liveText;
          if (update(data) === false) return;
          timer = window.setTimeout(tick, seconds * 1000);
        })
        .catch(function () {
          if (live) live.textContent = "· cannot reach the server; retrying";
          timer = window.setTimeout(tick, seconds * 1000);
        });
    }
    timer = window.setTimeout(tick, seconds * 1000);
    return function stop() { window.clearTimeout(timer); };
  }

  function queuePage(root) {
    const workers = root.querySelector("[data-workers]");
    const noWorkers = root.querySelector("[data-no-workers]");
    const up = root.querySelector("[data-redis-up]");
    const down = root.querySelector("[data-redis-down]");
    poll(root, root.dataset.pollUrl, Number(root.dataset.pollSeconds || 5), function (data) {
      fillFields(root, data);
      const answers = data.redis && data.redis.answers;
      if (up) up.hidden = !answers;
      if (down) down.hidden = !!answers;
      if (answers && workers) {
        workers.replaceChildren();
        data.redis.workers.forEach(function (worker) {
          const row = document.createElement("tr");
          cell(row, worker.name, true);
          cell(row, worker.state);
          cell(row, worker.current_job || "");
          cell(row, time(worker.last_heartbeat));
          workers.appendChild(row);
        });
        if (noWorkers) noWorkers.hidden = data.redis.workers.length > 0;
      }
    });
  }

  function regradeBatchPage(root) {
    if (root.dataset.complete === "true") return;
    const progress = root.querySelector("[data-progress]");
    poll(root, root.dataset.pollUrl, Number(root.dataset.pollSeconds || 4), function (data) {
      fillFields(root, data);
      if (progress) {
        progress.max = data.total || 1;
        progress.value = data.done;
      }
      data.regrades.forEach(function (regrade) {
        const status = root.querySelector('[data-regrade-status="' + regrade.id + '"]');
        if (status) {
          status.textContent = STATUS_LABELS[regrade.status] || regrade.status;
          status.className = "status status-" + regrade.status;
        }
        const score = root.querySelector('[data-regrade-score="' + regrade.id + '"]');
        if (score && regrade.score !== null) {
          score.textContent = regrade.score + " / " + regrade.max_score;
        }
      });
      if (data.complete) {
        // The per-check comparison is rendered by the server: fetch the finished page once.
        window.location.reload();
        return false;
      }
      return true;
    });
  }

  // Without a challenge chosen every version is offered; with one, only its versions.
  function regradeNewPage(form) {
    const challenge = form.querySelector("#challenge");
    if (!challenge) return;
    const selects = (challenge.dataset.filters || "").split(" ").map(function (id) {
      return form.querySelector("#" + id);
    }).filter(Boolean);
    function filter() {
      selects.forEach(function (select) {
        select.querySelectorAll("optgroup").forEach(function (group) {
          const mine = group.label === challenge.value;
          group.hidden = !mine;
          group.disabled = !mine;
        });
        const chosen = select.selectedOptions[0];
        if (!chosen || chosen.parentElement.disabled) {
          const options = select.querySelectorAll("optgroup:not([disabled]) option");
          const preferred = select.dataset.prefer === "last" ? options[options.length - 1] : options[0];
          if (preferred) preferred.selected = true;
        }
      });
    }
    challenge.addEventListener("change", filter);
    filter();
  }

  document.querySelectorAll("[data-ops-page]").forEach(function (root) {
    const page = root.dataset.opsPage;
    if (page === "queue") queuePage(root);
    else if (page === "regrade-batch") regradeBatchPage(root);
    else if (page === "regrade-new") regradeNewPage(root);
  });
})();
