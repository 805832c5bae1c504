// Faultline candidate pages: plain JavaScript, no build step. The editor itself comes from the
// CodeMirror bundle (static/dist/editor.js, window.FaultlineEditor). Every state change goes
// through the JSON API with the CSRF token; every refusal the server gives is shown as it says
// it. The server enforces the time limit: the countdown here only tells the candidate.
(function () {
  "use strict";

  const POLL_MS = 1000;
  const AUTOSAVE_MS = 1000;
  const RETRY_FIRST_MS = 1000;
  const RETRY_MAX_MS = 30000;
  const ALMOST_UP_SECONDS = 5;
  const UNFINISHED = ["queued", "running"];
  // The labels come from the page (app/formatting.py puts them in base.html).
  const STATUS_LABELS = JSON.parse(document.getElementById("status-labels")?.textContent || "{}");

  // ---- helpers -------------------------------------------------------------------------------

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function api(method, url, body, options) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (options && options.keepalive) init.keepalive = true;
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      return {
        ok: false,
        status: 0,
        data: null,
        error: "Cannot reach the server. Check your connection; your code stays in the editor.",
      };
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (response.ok && data !== null) return { ok: true, status: response.status, data };
    const error =
      data && typeof data.error === "string"
        ? data.error
        : `The server answered HTTP ${response.status}. Try again in a moment.`;
    return { ok: false, status: response.status, data, error };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function showError(message, scope) {
    const box = (scope || document).querySelector(".page-error") || document.getElementById("flash");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  function statusLabel(status) {
    return STATUS_LABELS[status] || status;
  }

  // Each editable file's undo history, kept in this browser across reloads. The editor takes
  // it back only when its text is exactly the server's text, so undo never steps into text the
  // server never had; a full browser storage only means no undo across a reload.
  function browserHistoryStore(page) {
    const key = (path) => `faultline:undo:${page.token}:${page.slug}:${path}`;
    return {
      load(path) {
        try {
          return JSON.parse(window.localStorage.getItem(key(path)) || "null");
        } catch (err) {
          return null;
        }
      },
      store(files) {
        for (const [path, entry] of files) {
          if (!entry.file.editable) continue;
          try {
            window.localStorage.setItem(key(path), JSON.stringify(entry.editor.saved()));
          } catch (err) {
            return;
          }
        }
      },
    };
  }

  // ---- the countdown (from the server's seconds_left, not the client's clock) ---------------

  function startCountdown() {
    const nodes = Array.from(document.querySelectorAll(".countdown[data-seconds-left]"));
    const seconds = nodes.length ? Number(nodes[0].dataset.secondsLeft) : NaN;
    if (!nodes.length || nodes[0].dataset.secondsLeft === "" || !Number.isFinite(seconds)) {
      return null;
    }
    let end = performance.now() + seconds * 1000;
    let fired = false;
    let warned = false;
    function tick() {
      const left = Math.max(0, Math.ceil((end - performance.now()) / 1000));
      for (const node of nodes) {
        node.textContent = clock(left);
        const timer = node.closest(".timer");
        if (timer) {
          timer.classList.toggle("low", left > 0 && left <= 300);
          timer.classList.toggle("expired", left === 0);
        }
      }
      if (left <= ALMOST_UP_SECONDS && !warned) {
        warned = true; // save what is unsaved while the server still takes it
        document.dispatchEvent(new CustomEvent("faultline:almostup"));
      }
      if (left === 0 && !fired) {
        fired = true;
        document.dispatchEvent(new CustomEvent("faultline:timeup"));
      }
    }
    tick();
    setInterval(tick, 1000);
    return {
      resync(secondsLeft) {
        if (typeof secondsLeft !== "number") return;
        end = performance.now() + secondsLeft * 1000;
        if (secondsLeft > 0) fired = false;
        tick();
      },
    };
  }

  // ---- landing -------------------------------------------------------------------------------

  function initLanding() {
    startCountdown();
    const button = document.getElementById("start-button");
    if (!button) return;
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.textContent = "Starting…";
      const result = await api("POST", button.dataset.startUrl);
      if (result.ok) {
        window.location.assign(button.dataset.nextUrl);
        return;
      }
      showError(result.error);
      button.disabled = false;
      button.textContent = "Start the assessment";
    });
  }

  // ---- overview ------------------------------------------------------------------------------

  function initOverview() {
    startCountdown();
    const closedBox = document.getElementById("closed-message");
    document.addEventListener("faultline:timeup", () => {
      // The server decides; the reloaded page shows its message (once: not if it already does).
      if (closedBox && closedBox.hidden) setTimeout(() => window.location.reload(), 1500);
    });
    const button = document.getElementById("finish-button");
    if (!button) return;
    button.addEventListener("click", async () => {
      const sure = window.confirm(
        "Finish the assessment? You cannot change or submit anything after this.",
      );
      if (!sure) return;
      button.disabled = true;
      const result = await api("POST", button.dataset.finishUrl);
      if (result.ok) {
        window.location.reload();
        return;
      }
      showError(result.error);
      button.disabled = false;
    });
  }

  // ---- report --------------------------------------------------------------------------------

  function initReport() {
    startCountdown();
    const card = document.querySelector(".report[data-status-url]");
    if (!card || card.dataset.finished === "true") return;
    const note = document.getElementById("pending-note");
    async function poll() {
      const result = await api("GET", card.dataset.statusUrl);
      if (result.ok) {
        showError(null, card);
        const s = result.data;
        if (!UNFINISHED.includes(s.status)) {
          window.location.reload();
          return;
        }
        if (note) {
          note.textContent =
            s.status === "queued"
              ? `Waiting in the grading queue${s.queue_position ? ` (position ${s.queue_position})` : ""}. This page updates itself.`
              : "Grading in progress. This page updates itself.";
        }
      } else {
        showError(result.error, card);
      }
      setTimeout(poll, POLL_MS);
    }
    setTimeout(poll, POLL_MS);
  }

  // ---- challenge -----------------------------------------------------------------------------

  function initChallenge() {
    const dataNode = document.getElementById("challenge-data");
    if (!dataNode) return;
    const page = JSON.parse(dataNode.textContent);
    const outputPanel = document.querySelector(".output-panel");
    const output = document.getElementById("output");
    const gradingState = document.getElementById("grading-state");
    const saveState = document.getElementById("save-state");
    const closedBox = document.getElementById("closed-message");
    const readonlyBanner = document.getElementById("readonly-banner");
    const resetButton = document.getElementById("reset-button");
    const history = document.getElementById("history");
    const buttons = {
      run: document.getElementById("run-button"),
      submit: document.getElementById("submit-button"),
    };
    const buttonText = { run: buttons.run.innerHTML, submit: buttons.submit.innerHTML };
    const busy = { run: false, submit: false };
    let closed = Boolean(page.closed_message);

    const isMac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
    if (isMac) {
      document.querySelectorAll("kbd[data-mod]").forEach((k) => (k.textContent = "⌘"));
      buttons.run.title = "Run the visible tests (⌘+Enter)";
      buttons.submit.title = "Submit for the hidden checks (⌘+Shift+Enter)";
      buttonText.run = buttons.run.innerHTML;
      buttonText.submit = buttons.submit.innerHTML;
    }

    if (!window.FaultlineEditor) {
      showError("The editor failed to load. Reload the page.", outputPanel);
      return;
    }

    // Editors: one per file, one shown at a time (each keeps its own undo history).
    const host = document.getElementById("editor-host");
    const wrapLines = document.getElementById("wrap-lines"); // its remembered state: panes.js
    const undoHistory = browserHistoryStore(page);
    const recorder = window.FaultlineRecorder
      ? window.FaultlineRecorder.create({ url: page.urls.events, csrfToken })
      : null;
    const record = (kind, file, data) => recorder && recorder.record(kind, file, data);
    const copied = []; // what was copied or cut from these editors: a paste of it is "inside"
    const sameText = (a, b) => a.replace(/\n$/, "") === b.replace(/\n$/, "");
    const files = new Map();
    const dirty = new Set();
    for (const file of page.files) {
      const pane = el("div", { class: "editor-pane", "data-path": file.path, hidden: true });
      host.append(pane);
      const editor = window.FaultlineEditor.create(pane, {
        doc: file.content,
        readOnly: !file.editable,
        saved: file.editable ? undoHistory.load(file.path) : null,
        lineWrapping: Boolean(wrapLines?.checked),
        label: `${file.path}${file.editable ? "" : " (read-only)"}`,
        onChange: () => {
          dirty.add(file.path);
          scheduleSave();
        },
        onEdit: (edit) => {
          const data = { changes: edit.changes, origin: edit.origin };
          if (edit.origin === "paste" || edit.origin === "drop") {
            const inside = copied.some((text) => sameText(text, edit.inserted));
            data.paste = { size: edit.inserted.length, source: inside ? "inside" : "outside" };
          }
          record("change", file.path, data);
        },
      });
      files.set(file.path, { file, editor, pane });
      if (file.editable) record("snapshot", file.path, { text: file.content });
    }
    for (const kind of ["copy", "cut"]) {
      host.addEventListener(kind, () => {
        const entry = files.get(openPath);
        const text = entry ? entry.editor.copiedText() : "";
        if (text) copied.splice(0, copied.length, ...copied.slice(-19), text);
      });
    }
    window.addEventListener("focus", () => record("focus"));
    window.addEventListener("blur", () => record("blur"));
    document.addEventListener("visibilitychange", () => record(document.hidden ? "hidden" : "visible"));
    wrapLines?.addEventListener("change", () => {
      for (const entry of files.values()) entry.editor.setLineWrapping(wrapLines.checked);
    });
    const tabs = Array.from(document.querySelectorAll("#file-tabs .tab"));
    let openPath = null;
    function openFile(path) {
      if (path !== openPath) record("file", path);
      openPath = path;
      for (const [p, entry] of files) entry.pane.hidden = p !== path;
      for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.dataset.path === path));
      const entry = files.get(path);
      readonlyBanner.hidden = !entry || entry.file.editable;
      resetButton.disabled = closed || !entry || !entry.file.editable;
      if (entry) entry.editor.focus();
    }
    tabs.forEach((tab) => tab.addEventListener("click", () => openFile(tab.dataset.path)));
    const first = page.files.find((f) => f.open) || page.files.find((f) => f.editable) || page.files[0];
    if (first) openFile(first.path);

    function editableFiles() {
      const out = {};
      for (const [path, entry] of files) if (entry.file.editable) out[path] = entry.editor.getValue();
      return out;
    }

    // Closing: the server said no (time up or finished): stop saving and submitting.
    function setClosed(message) {
      closed = true;
      clearTimeout(saveTimer);
      buttons.run.disabled = true;
      buttons.submit.disabled = true;
      resetButton.disabled = true;
      if (recorder) recorder.close();
      closedBox.textContent = message;
      closedBox.hidden = false;
      setSaveState(dirty.size ? "Not saved: no longer accepted" : "Saving is off", "off");
    }

    // Autosave: a debounced PUT of the editable files, one request at a time. "Saved" is shown
    // only once the server has the text. Each save names the draft version it was based on:
    // when another tab saved in between, the server refuses it and the candidate chooses.
    let saveTimer = null;
    let saving = Promise.resolve();
    let draftVersion = page.draft_version || 0;
    let stale = false;
    let retryDelay = 0;
    function setSaveState(text, kind) {
      saveState.textContent = text;
      saveState.dataset.state = kind || "";
    }
    function scheduleSave(delay) {
      if (closed) {
        setSaveState("Not saved: no longer accepted", "off");
        return;
      }
      if (stale) return;
      if (!retryDelay) setSaveState("Unsaved changes", "dirty");
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => save(false), delay === undefined ? AUTOSAVE_MS : delay);
    }
    function retryLater() {
      // The network or the server failed: try again, waiting longer each time (up to 30 s).
      retryDelay = Math.min(RETRY_MAX_MS, retryDelay ? retryDelay * 2 : RETRY_FIRST_MS);
      setSaveState(`Not saved: cannot reach the server; retrying in ${Math.round(retryDelay / 1000)} s`, "error");
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => save(false), retryDelay);
    }
    window.addEventListener("online", () => {
      if (retryDelay && dirty.size) save(false);
    });
    function save(force, options) {
      clearTimeout(saveTimer);
      saving = saving.then(async () => {
        if ((closed && !force) || stale || (!force && dirty.size === 0)) return null;
        const sent = new Set(dirty);
        dirty.clear();
        if (!retryDelay) setSaveState("Saving…", "saving");
        const body = { files: editableFiles(), base_version: draftVersion };
        if (options && options.overwrite) body.overwrite = true;
        const result = await api("PUT", page.urls.draft, body, options);
        if (result.ok) {
          undoHistory.store(files);
          draftVersion = result.data.version;
          retryDelay = 0;
          if (dirty.size) scheduleSave();
          else setSaveState(`Saved ${new Date(result.data.saved_at).toLocaleTimeString()}`, "saved");
          showError(null, outputPanel);
          return result;
        }
        sent.forEach((p) => dirty.add(p));
        if (result.status === 403) setClosed(result.error);
        else if (result.status === 409 && result.data && result.data.current_version) {
          showStale(result.error);
        } else if (result.status === 0 || result.status >= 500 || result.status === 429) {
          retryLater();
        } else {
          setSaveState("Not saved", "error");
          showError(result.error, outputPanel);
        }
        return result;
      });
      return saving;
    }
    window.addEventListener("pagehide", () => {
      if (dirty.size && !closed && !stale) save(false, { keepalive: true });
      undoHistory.store(files);
      if (recorder) recorder.flush(true);
    });
    document.addEventListener("faultline:almostup", () => {
      if (dirty.size && !closed && !stale) save(false);
    });

    // Another tab saved this challenge since this page loaded it: stop saving and ask.
    const staleBox = document.getElementById("stale-message");
    function showStale(message) {
      stale = true;
      clearTimeout(saveTimer);
      setSaveState("Not saved: a newer copy exists", "error");
      staleBox.querySelector(".stale-text").textContent = message;
      staleBox.hidden = false;
    }
    staleBox.querySelector("[data-action=reload]").addEventListener("click", () => {
      dirty.clear();
      window.location.reload();
    });
    staleBox.querySelector("[data-action=overwrite]").addEventListener("click", () => {
      stale = false;
      staleBox.hidden = true;
      save(true, { overwrite: true });
    });
    if (closed) setClosed(page.closed_message);

    // Reset to starter: the open file gets its starter text back, as an edit (undoable).
    resetButton.addEventListener("click", () => {
      const entry = files.get(openPath);
      if (closed || !entry || !entry.file.editable) return;
      const sure = window.confirm(
        `Reset ${entry.file.path} to the starter code? Your changes to this file are replaced ` +
          "(Ctrl+Z in the editor brings them back).",
      );
      if (!sure) return;
      entry.editor.setValue(entry.file.starter, "reset");
      entry.editor.focus();
    });

    // Time up on the client: ask the server (a save it will refuse once time is really up).
    document.addEventListener("faultline:timeup", () => {
      let tries = 0;
      async function check() {
        if (closed) return;
        const result = await save(true);
        if (closed || !result) return;
        if (result.ok && tries++ < 10) setTimeout(check, 2000);
      }
      check();
    });
    // Keep the countdown honest against the server's clock.
    const countdown = startCountdown();
    setInterval(async () => {
      if (!countdown) return;
      const result = await api("GET", page.urls.invite);
      if (result.ok) countdown.resync(result.data.seconds_left);
    }, 60000);

    // Run tests / Submit, then poll the submission until it is done.
    async function grade(mode) {
      if (closed || busy[mode]) return;
      showError(null, outputPanel);
      save(false);
      setBusy(mode, true);
      setGradingState(mode === "run" ? "Sending your code…" : "Submitting…", "busy");
      const taken = recorder ? recorder.reserve() : null; // where the files are taken
      const result = await api("POST", page.urls.submissions, { files: editableFiles(), mode });
      const answer = result.ok ? { submission_id: result.data.id } : { refused: result.error };
      if (recorder) recorder.record(mode, null, answer, taken);
      if (!result.ok) {
        setBusy(mode, false);
        setGradingState("", "");
        showError(result.error, outputPanel);
        if (result.status === 403) setClosed(result.error);
        return;
      }
      upsertHistory(result.data);
      follow(result.data);
    }

    function setBusy(mode, value) {
      busy[mode] = value;
      const button = buttons[mode];
      button.disabled = value || closed;
      if (value) button.textContent = mode === "run" ? "Running…" : "Grading…";
      else button.innerHTML = buttonText[mode];
    }

    function setGradingState(text, kind) {
      gradingState.textContent = text;
      gradingState.dataset.state = kind || "";
    }

    function follow(submission) {
      const mode = submission.mode;
      setBusy(mode, true);
      const what = mode === "run" ? "Test run" : `Submission #${submission.number || submission.id}`;
      async function step(s) {
        if (!UNFINISHED.includes(s.status)) {
          recordResult(s);
          setBusy(mode, false);
          setGradingState(`${what}: ${statusLabel(s.status)}`, s.status === "graded" ? "done" : "problem");
          upsertHistory(s);
          renderResult(s);
          return;
        }
        if (s.status === "queued") {
          setGradingState(
            `${what}: queued${s.queue_position ? ` (position ${s.queue_position})` : ""}…`,
            "busy",
          );
        } else {
          setGradingState(`${what}: running…`, "busy");
        }
        setTimeout(async () => {
          const result = await api("GET", s.status_url);
          if (result.ok) {
            showError(null, outputPanel);
            step(result.data);
          } else {
            showError(`${result.error} (retrying)`, outputPanel);
            step(s);
          }
        }, POLL_MS);
      }
      step(submission);
    }

    function recordResult(s) {
      const checks = (s.report && s.report.checks) || [];
      record("result", null, {
        submission_id: s.id,
        mode: s.mode,
        status: s.status,
        score: s.score,
        max_score: s.max_score,
        passed: checks.filter((check) => check.passed).length,
        total: checks.length,
      });
    }

    function renderResult(s) {
      const report = s.report;
      const reportUrl = page.urls.report + s.id;
      output.replaceChildren();
      if (!report) {
        output.append(el("p", { text: `${statusLabel(s.status)}: no report was produced.` }));
        return;
      }
      // A run that could not be graded leads with why (e.g. the line that failed to import).
      let title = `${statusLabel(report.status)}: ${report.status_detail}`;
      if (report.status === "graded") {
        title =
          s.mode === "run"
            ? `Visible tests: ${report.status_detail}`
            : `Score ${report.score}/${report.max_score}: ${report.status_detail}`;
      }
      output.append(
        el(
          "p",
          { class: `result-head status-${report.status === "graded" ? "graded" : "problem"}` },
          el("strong", { text: title }),
        ),
      );
      const list = el("ul", { class: "results" });
      for (const check of report.checks) {
        const item = el(
          "li",
          { class: check.passed ? "passed" : "failed" },
          el("span", { class: "mark", "aria-hidden": "true", text: check.passed ? "✓" : "✗" }),
          el("span", { class: "check-title", text: check.title }),
          el("span", { class: "verdict", text: check.passed ? "passed" : check.outcome }),
        );
        if (s.mode === "submit") {
          item.append(el("span", { class: "points", text: `${check.points}/${check.weight}` }));
        }
        for (const text of check.evidence || []) {
          item.append(el("div", { class: "evidence-line", text }));
        }
        list.append(item);
      }
      if (report.checks.length) output.append(list);
      for (const text of report.collect_errors || []) {
        output.append(el("pre", { class: "console error", text }));
      }
      if (s.mode === "run" && report.output) {
        output.append(el("pre", { class: "console", text: report.output }));
      }
      if (s.mode === "submit") {
        output.append(
          el("p", {}, el("a", { class: "button small", href: reportUrl, text: "Open the full report →" })),
        );
      }
    }

    function upsertHistory(s) {
      if (s.mode !== "submit" || !history) return;
      const empty = history.querySelector(".empty");
      if (empty) empty.remove();
      let item = history.querySelector(`li[data-id="${s.id}"]`);
      const score = s.score !== null && s.score !== undefined ? ` · ${s.score}/${s.max_score}` : "";
      const fresh = el(
        "li",
        { "data-id": String(s.id) },
        el("a", { href: page.urls.report + s.id, text: `#${s.number || s.id}` }),
        ` ${statusLabel(s.status)}${score}`,
      );
      if (item) item.replaceWith(fresh);
      else history.prepend(fresh);
    }
    // Server-rendered history items get their ids so updates replace them.
    history?.querySelectorAll("li a").forEach((a) => {
      const id = a.getAttribute("href").split("/").pop();
      a.parentElement.dataset.id = id;
    });

    // Pick up work still being graded (a reload during grading).
    let followed = false;
    for (const mode of ["run", "submit"]) {
      const latest = page.submissions.find((s) => s.mode === mode);
      if (latest && UNFINISHED.includes(latest.status)) {
        followed = true;
        follow({ ...latest, status_url: `${page.urls.invite}/submissions/${latest.id}` });
      }
    }
    // Otherwise show the newest result again, as it was before the reload.
    const newest = page.submissions[0];
    if (!followed && newest) {
      api("GET", `${page.urls.invite}/submissions/${newest.id}`).then((result) => {
        if (result.ok && !busy.run && !busy.submit) renderResult(result.data);
      });
    }

    buttons.run.addEventListener("click", () => grade("run"));
    buttons.submit.addEventListener("click", () => grade("submit"));
    window.addEventListener(
      "keydown",
      (event) => {
        const mod = event.ctrlKey || event.metaKey;
        if (!mod || event.altKey) return;
        if (event.key === "Enter") {
          event.preventDefault();
          event.stopPropagation();
          grade(event.shiftKey ? "submit" : "run");
        } else if ((event.key === "s" || event.key === "S") && !event.shiftKey) {
          event.preventDefault();
          event.stopPropagation();
          if (!closed) save(true);
        }
      },
      true,
    );
  }

  const init = {
    landing: initLanding,
    overview: initOverview,
    challenge: initChallenge,
    report: initReport,
  }[document.body.dataset.page];
  if (init) init();
})();
