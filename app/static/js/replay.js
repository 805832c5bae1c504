// The session replay player of the interviewer's review page (issue 14). It loads a challenge's
// recorded events (the staff replay JSON), rebuilds the code at any moment with the editor
// bundle's replayDocs (the same CodeMirror code that recorded the edits), and plays it back
// in a read-only editor with the change just made highlighted. Markers on the scrubber: pastes
// (by origin and size), time away from the page, runs and submits (by result), gaps.
(function () {
  "use strict";

  const SPEEDS = [1, 2, 4, 8, 16, 32];
  const TICK_MS = 50;
  const IDLE_MS = 5000; // with "skip idle", a pause longer than this plays in half a second
  const CHECKPOINT_EVERY = 100;
  const docs = window.FaultlineEditor ? window.FaultlineEditor.replayDocs : null;
  const LARGE_PASTE = 200; // characters

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
  }

  // ---- the code at each moment ---------------------------------------------------------------

  class Session {
    constructor(data) {
      this.data = data;
      this.events = data.events;
      this.paths = Object.keys(data.files).filter((path) => data.files[path].editable);
      this.start = Math.min(Date.parse(data.started_at), ...this.events.map((e) => e.t));
      const last = this.events.length ? this.events[this.events.length - 1].t : this.start;
      this.duration = Math.max(1000, last - this.start);
      this.checkpoints = [];
      this.unreadable = new Set(); // event indexes whose edit could not be applied
      let texts = this.starters();
      for (let i = 0; i < this.events.length; i += 1) {
        if (i % CHECKPOINT_EVERY === 0) this.checkpoints.push({ index: i, texts: { ...texts } });
        texts = this.apply(texts, i).texts;
      }
    }

    // Each file as a CodeMirror document (docs.docOf): applying an edit costs little however
    // long the text, and a checkpoint shares all but what changed.
    starters() {
      const texts = {};
      for (const path of this.paths) texts[path] = docs.docOf(this.data.files[path].starter);
      return texts;
    }

    apply(texts, index) {
      const event = this.events[index];
      if (!this.paths.includes(event.file)) return { texts, inserted: null };
      const data = event.data || {};
      if (event.kind === "snapshot" && typeof data.text === "string") {
        return { texts: { ...texts, [event.file]: docs.docOf(data.text) }, inserted: null };
      }
      if (event.kind !== "change" || !Array.isArray(data.changes)) return { texts, inserted: null };
      try {
        const result = docs.apply(texts[event.file], data.changes);
        return { texts: { ...texts, [event.file]: result.doc }, inserted: result.inserted };
      } catch (err) {
        this.unreadable.add(index);
        return { texts, inserted: null };
      }
    }

    // The texts after the first `count` events, and what the last of them inserted.
    at(count) {
      // From a checkpoint before the last event, so that its edit is known to highlight.
      const from = Math.max(0, count - 1);
      const checkpoint = [...this.checkpoints].reverse().find((c) => c.index <= from) || {
        index: 0,
        texts: this.starters(),
      };
      let texts = checkpoint.texts;
      let last = null;
      for (let i = checkpoint.index; i < count; i += 1) {
        const step = this.apply(texts, i);
        texts = step.texts;
        last = step.inserted ? { file: this.events[i].file, ranges: step.inserted } : null;
      }
      return { texts, last };
    }

    countAt(time) {
      let count = 0;
      while (count < this.events.length && this.events[count].t - this.start <= time) count += 1;
      return count;
    }

    markers() {
      const marks = [];
      let awaySince = null;
      let hiddenOrBlurred = 0;
      this.events.forEach((event, index) => {
        const at = event.t - this.start;
        const data = event.data || {};
        if (event.kind === "change" && data.paste) {
          const size = data.paste.size;
          marks.push({
            at,
            index,
            kind: `paste paste-${data.paste.source} ${size >= LARGE_PASTE ? "paste-large" : "paste-small"}`,
            label: `${data.paste.source === "outside" ? "Paste from outside" : "Paste from this editor"}: ${size} characters`,
          });
        } else if (event.kind === "result") {
          const passed = data.total > 0 && data.passed === data.total;
          const what = data.mode === "submit" ? "Submit" : "Run";
          const score = data.mode === "submit" && data.score !== null ? ` ${data.score}/${data.max_score}` : "";
          marks.push({
            at,
            index,
            kind: `${data.mode === "submit" ? "submit" : "run"} ${passed ? "passed" : "failed"}`,
            label: `${what}: ${data.passed}/${data.total} checks passed${score}`,
          });
        } else if (event.kind === "gap") {
          marks.push({ at, index, kind: "gap", label: `Events ${data.from_seq}-${data.to_seq} were lost` });
        } else if (event.kind === "blur" || event.kind === "hidden") {
          hiddenOrBlurred += 1;
          if (awaySince === null) awaySince = at;
        } else if (event.kind === "focus" || event.kind === "visible") {
          hiddenOrBlurred = Math.max(0, hiddenOrBlurred - 1);
          if (awaySince !== null && hiddenOrBlurred === 0) {
            marks.push({ at: awaySince, until: at, index, kind: "away", label: `Away from the page for ${clock(at - awaySince)}` });
            awaySince = null;
          }
        }
      });
      if (awaySince !== null) {
        marks.push({ at: awaySince, until: this.duration, index: this.events.length - 1, kind: "away", label: "Away from the page until the end" });
      }
      return marks.sort((a, b) => a.at - b.at);
    }
  }

  // ---- a line diff between two texts (longest common subsequence of lines) -------------------

  function lineDiff(before, after) {
    const a = before.split("\n");
    const b = after.split("\n");
    const table = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
    for (let i = a.length - 1; i >= 0; i -= 1) {
      for (let j = b.length - 1; j >= 0; j -= 1) {
        table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    const lines = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (i < a.length && j < b.length && a[i] === b[j]) {
        lines.push([" ", a[i]]);
        i += 1;
        j += 1;
      } else if (j < b.length && (i === a.length || table[i][j + 1] >= table[i + 1][j])) {
        lines.push(["+", b[j]]);
        j += 1;
      } else {
        lines.push(["-", a[i]]);
        i += 1;
      }
    }
    return lines;
  }

  // ---- the player ----------------------------------------------------------------------------

  function player(container, data) {
    const session = new Session(data);
    const marks = session.markers();
    let position = 0;
    let playing = null;
    let shown = session.paths[0];
    let follow = true;
    const moments = { a: null, b: null };

    const integrity = data.integrity || {};
    const banner = el("div", {
      class: `notice ${integrity.ok ? "notice-ok" : "notice-warn"} replay-integrity`,
      role: "status",
    });
    if (integrity.ok) {
      banner.textContent = "The replay ends exactly at the code that was graded.";
    } else {
      banner.append(el("strong", { text: "The replay does not match the graded code. " }));
      for (const problem of integrity.problems || []) {
        const line = el("div", { class: "replay-problem" }, problem.message);
        if (problem.t) {
          const jump = el("button", { type: "button", class: "button small", text: `Go to ${clock(problem.t - session.start)}` });
          jump.addEventListener("click", () => seek(problem.t - session.start));
          line.append(" ", jump);
        }
        if (problem.diff) {
          line.append(el("details", {}, el("summary", { text: "Replayed text against the graded code" }), el("pre", { class: "diff", text: problem.diff })));
        }
        banner.append(line);
      }
    }
    if (session.unreadable.size) {
      banner.append(el("div", { class: "replay-problem", text: `${session.unreadable.size} recorded edits did not fit the text they were made on (shown without them).` }));
    }

    const summary = signalsPanel(data.signals || {}, session, (at) => seek(at));

    const play = el("button", { type: "button", class: "button small", "aria-label": "Play", text: "▶ Play" });
    const speed = el("select", { "aria-label": "Playback speed" });
    for (const s of SPEEDS) speed.append(el("option", { value: String(s), text: `${s}x` }));
    const skipIdle = el("input", { type: "checkbox", checked: true });
    const prev = el("button", { type: "button", class: "button small", text: "◀ Marker", "aria-label": "Previous marker" });
    const next = el("button", { type: "button", class: "button small", text: "Marker ▶", "aria-label": "Next marker" });
    const time = el("span", { class: "replay-time", "aria-live": "off" });
    const scrubber = el("input", {
      type: "range",
      min: "0",
      max: String(session.duration),
      step: "100",
      value: "0",
      class: "replay-scrubber",
      "aria-label": "Replay position",
    });
    const track = el("div", { class: "replay-track", "aria-hidden": "true" });
    for (const mark of marks) {
      const left = (mark.at / session.duration) * 100;
      const node = el("span", { class: `replay-mark ${mark.kind}`, title: `${clock(mark.at)} ${mark.label}` });
      node.style.left = `${left}%`;
      if (mark.until !== undefined) node.style.width = `${Math.max(0.4, ((mark.until - mark.at) / session.duration) * 100)}%`;
      node.addEventListener("click", () => seek(mark.at));
      track.append(node);
    }
    const markList = el("ol", { class: "replay-marks" });
    for (const mark of marks) {
      const go = el("button", { type: "button", class: `link-button replay-mark-link ${mark.kind}`, text: `${clock(mark.at)} ${mark.label}` });
      go.addEventListener("click", () => seek(mark.at));
      markList.append(el("li", {}, go));
    }

    const tabs = el("div", { class: "replay-files", role: "tablist" });
    for (const path of session.paths) {
      const tab = el("button", { type: "button", role: "tab", class: "tab", "data-path": path, text: path });
      tab.addEventListener("click", () => {
        shown = path;
        follow = false;
        render();
      });
      tabs.append(tab);
    }
    const host = el("div", { class: "replay-editor" });
    const diffBox = el("div", { class: "replay-diff", hidden: true });
    const markA = el("button", { type: "button", class: "button small", text: "Set A here" });
    const markB = el("button", { type: "button", class: "button small", text: "Set B here" });
    const showDiff = el("button", { type: "button", class: "button small", text: "Diff A → B", disabled: true });
    const diffLabel = el("span", { class: "muted small" });

    container.replaceChildren(
      banner,
      summary,
      el(
        "div",
        { class: "replay-controls" },
        play,
        el("label", {}, "Speed ", speed),
        el("label", {}, skipIdle, " skip idle"),
        prev,
        next,
        time,
      ),
      el("div", { class: "replay-timeline" }, track, scrubber),
      el("details", { class: "replay-marker-list" }, el("summary", { text: `${marks.length} markers` }), markList),
      tabs,
      host,
      el("div", { class: "replay-diff-controls" }, markA, markB, showDiff, diffLabel),
      diffBox,
    );
    const editor = window.FaultlineEditor.create(host, { doc: "", readOnly: true, label: "replayed code (read-only)" });

    function render() {
      const count = session.countAt(position);
      const state = session.at(count);
      if (follow && state.last) shown = state.last.file;
      for (const tab of tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.path === shown));
      const text = state.texts[shown] ? state.texts[shown].toString() : "";
      if (editor.getValue() !== text) editor.setValue(text);
      const ranges = state.last && state.last.file === shown ? state.last.ranges : [];
      editor.setHighlight(ranges, ranges.length > 0);
      scrubber.value = String(position);
      time.textContent = `${clock(position)} / ${clock(session.duration)} · event ${count} of ${session.events.length}`;
      container.dataset.position = String(Math.round(position));
      container.dataset.count = String(count);
    }

    function seek(at) {
      position = Math.max(0, Math.min(session.duration, at));
      follow = true;
      render();
    }

    function stop() {
      clearInterval(playing);
      playing = null;
      play.textContent = "▶ Play";
      play.setAttribute("aria-label", "Play");
    }

    play.addEventListener("click", () => {
      if (playing) return stop();
      if (position >= session.duration) position = 0;
      play.textContent = "❚❚ Pause";
      play.setAttribute("aria-label", "Pause");
      playing = setInterval(() => {
        position += TICK_MS * Number(speed.value);
        const upcoming = session.events.find((e) => e.t - session.start > position);
        if (skipIdle.checked && upcoming && upcoming.t - session.start - position > IDLE_MS) {
          position = upcoming.t - session.start - 500;
        }
        if (position >= session.duration) {
          position = session.duration;
          stop();
        }
        render();
      }, TICK_MS);
      return null;
    });
    scrubber.addEventListener("input", () => seek(Number(scrubber.value)));
    next.addEventListener("click", () => {
      const mark = marks.find((m) => m.at > position + 1);
      if (mark) seek(mark.at);
    });
    prev.addEventListener("click", () => {
      const mark = [...marks].reverse().find((m) => m.at < position - 1);
      seek(mark ? mark.at : 0);
    });
    function updateDiffLabel() {
      const a = moments.a === null ? "not set" : clock(moments.a);
      const b = moments.b === null ? "not set" : clock(moments.b);
      diffLabel.textContent = `A ${a} · B ${b}`;
      showDiff.disabled = moments.a === null || moments.b === null;
    }
    markA.addEventListener("click", () => {
      moments.a = position;
      updateDiffLabel();
    });
    markB.addEventListener("click", () => {
      moments.b = position;
      updateDiffLabel();
    });
    showDiff.addEventListener("click", () => {
      const before = String(session.at(session.countAt(moments.a)).texts[shown] ?? "");
      const after = String(session.at(session.countAt(moments.b)).texts[shown] ?? "");
      const pre = el("pre", { class: "diff" });
      for (const [sign, text] of lineDiff(before, after)) {
        const css = sign === "+" ? "diff-add" : sign === "-" ? "diff-del" : "";
        pre.append(el("span", { class: css, text: `${sign} ${text}\n` }));
      }
      diffBox.replaceChildren(el("p", { class: "muted small", text: `${shown}: ${clock(moments.a)} → ${clock(moments.b)}` }), pre);
      diffBox.hidden = false;
    });
    updateDiffLabel();
    seek(session.duration); // open at the end: the code as it was last
  }

  // The signals beside the replay (the server's figures): where the final code came from, the
  // largest outside pastes, time away, how soon tests ran and passed. Read with their caveats.
  function signalsPanel(signals, session, seekTo) {
    const percent = (share) => `${Math.round(share * 100)}%`;
    const since = (ms) => (ms === null || ms === undefined ? "never" : `${clock(ms)} after the start`);
    const share = signals.share;
    const origin = share
      ? [
          ["typed", "typed"],
          ["pasted_outside", "pasted from outside"],
          ["pasted_inside", "pasted from this editor"],
          ["starter", "the starter's"],
          ["other", "other (undone, reset)"],
          ["unrecorded", "not recorded"],
        ]
          .filter(([key]) => share[key])
          .map(([key, label]) => `${percent(share[key])} ${label}`)
          .join(", ")
      : "not known (part of the text was not recorded)";
    const rows = [
      ["Final code", origin],
      [
        "Pastes from outside",
        `${signals.outside_pastes || 0} (${signals.outside_pasted_characters || 0} characters)`,
      ],
      [
        "Time away from the page",
        `${clock(signals.away_ms || 0)} in all; longest ${clock(signals.longest_away_ms || 0)}`,
      ],
      ["First test run", since(signals.first_run_ms)],
      ["First passing test run", since(signals.first_passing_run_ms)],
      ["Runs and submits", `${signals.runs || 0} test runs, ${signals.submits || 0} submits`],
    ];
    const list = el("dl", { class: "replay-signals" });
    for (const [term, value] of rows) list.append(el("div", {}, el("dt", { text: term }), el("dd", { text: value })));
    const pastes = el("ol", { class: "replay-pastes" });
    for (const paste of signals.largest_outside_pastes || []) {
      const go = el("button", { type: "button", class: "link-button", text: `${clock(paste.t - session.start)} · ${paste.file} · ${paste.size} characters` });
      go.addEventListener("click", () => seekTo(paste.t - session.start));
      pastes.append(el("li", {}, go, el("pre", { class: "paste-text", text: paste.text === null ? "(text not recorded)" : paste.text })));
    }
    return el(
      "section",
      { class: "replay-summary", "aria-label": "Signals" },
      list,
      pastes.children.length ? el("details", {}, el("summary", { text: "The largest pastes from outside" }), pastes) : null,
      el("p", {
        class: "muted small",
        text:
          "Signals, not verdicts: a paste from outside may be the candidate's own notes or a " +
          "snippet from the docs; time away may be reading the brief elsewhere. Use them to ask " +
          "better questions, not to score (docs/interviewers.md).",
      }),
    );
  }

  async function load(container) {
    container.textContent = "Loading the session…";
    let data = null;
    try {
      const response = await fetch(container.dataset.replayUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      data = response.ok ? await response.json() : null;
    } catch (err) {
      data = null;
    }
    if (!data) {
      container.textContent = "The session could not be loaded. Reload the page to try again.";
      return;
    }
    if (!data.events.length) {
      container.textContent = "Nothing was recorded for this challenge.";
      return;
    }
    player(container, data);
  }

  document.querySelectorAll(".replay[data-replay-url]").forEach((container) => {
    const button = container.querySelector("button.replay-load");
    if (button) button.addEventListener("click", () => load(container), { once: true });
  });
})();
