// The challenge page's layout: a resizable, hideable brief and output around the editor, file
// tabs that never hide a file, and the line-wrap setting. Remembered per invite in localStorage.
// Plain JavaScript, no build step; loaded before candidate.js, which creates the editors with the
// wrap setting restored here (#wrap-lines).
(function () {
  "use strict";

  const workspace = document.getElementById("workspace");
  const dataNode = document.getElementById("challenge-data");
  if (!workspace || !dataNode) return;

  const BRIEF_MIN_PX = 200;
  const EDITOR_MIN_WIDTH_PX = 360;
  const OUTPUT_MIN_PX = 72;
  const EDITOR_MIN_HEIGHT_PX = 120;
  const BRIEF_DEFAULT = 0.3; // of the workspace's width
  const OUTPUT_DEFAULT_MAX = 0.3; // of the height below the toolbar
  // The output starts no taller than leaves the editor this much: 31 lines of its 13px type
  // (app.css) and padding, so a 1366x768 screen shows at least 30 lines of code.
  const EDITOR_ROOM_PX = 600;
  const KEY_STEP = 0.02;
  const KEY_BIG_STEP = 0.1;

  const narrow = window.matchMedia("(max-width: 820px)"); // where app.css stacks the panes
  const briefPanel = document.getElementById("brief-panel");
  const showBrief = document.getElementById("show-brief");
  const hideBrief = document.getElementById("hide-brief");
  const editorColumn = document.getElementById("editor-column");
  const toolbar = editorColumn.querySelector(".toolbar");
  const output = document.getElementById("output");
  const toggleOutput = document.getElementById("toggle-output");
  const wrapBox = document.getElementById("wrap-lines");

  // ---- remembered state ------------------------------------------------------------------------

  const storageKey = `faultline:layout:${JSON.parse(dataNode.textContent).token}`;
  const state = { brief: null, output: null, briefHidden: false, outputHidden: false, wrap: false };
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey) || "{}");
    for (const name of ["brief", "output"]) {
      if (typeof saved[name] === "number" && saved[name] > 0 && saved[name] < 1) {
        state[name] = saved[name];
      }
    }
    for (const name of ["briefHidden", "outputHidden", "wrap"]) state[name] = saved[name] === true;
  } catch (err) {
    // Unreadable or unavailable storage: start from the defaults.
  }
  function remember() {
    try {
      localStorage.setItem(storageKey, JSON.stringify(state));
    } catch (err) {
      // Storage off or full: the layout still works, it is just not remembered.
    }
  }

  // ---- resizable panes -------------------------------------------------------------------------

  const clamp = (value, low, high) => Math.min(Math.max(value, low), Math.max(low, high));

  // Each pane's size is remembered as a fraction of its room, so it follows the window's size.
  const panes = {
    brief: {
      splitter: document.getElementById("brief-splitter"),
      element: briefPanel,
      growKey: "ArrowRight",
      shrinkKey: "ArrowLeft",
      room() {
        return workspace.clientWidth - this.splitter.offsetWidth;
      },
      limits(room) {
        return [BRIEF_MIN_PX, room - EDITOR_MIN_WIDTH_PX];
      },
      defaultSize(room) {
        return room * BRIEF_DEFAULT;
      },
      rendered() {
        return this.element.getBoundingClientRect().width;
      },
      pointer: (event) => event.clientX,
      direction: 1,
      apply: (px) => workspace.style.setProperty("--brief-width", `${px}px`),
    },
    output: {
      splitter: document.getElementById("output-splitter"),
      element: document.getElementById("output-panel"),
      growKey: "ArrowUp",
      shrinkKey: "ArrowDown",
      room() {
        return editorColumn.clientHeight - toolbar.offsetHeight - this.splitter.offsetHeight;
      },
      limits(room) {
        return [OUTPUT_MIN_PX, room - EDITOR_MIN_HEIGHT_PX];
      },
      defaultSize(room) {
        return Math.min(room * OUTPUT_DEFAULT_MAX, room - EDITOR_ROOM_PX);
      },
      rendered() {
        return this.element.getBoundingClientRect().height;
      },
      pointer: (event) => event.clientY,
      direction: -1, // dragging up makes the output taller
      apply: (px) => editorColumn.style.setProperty("--output-height", `${px}px`),
    },
  };

  function isActive(name) {
    return !narrow.matches && !state[`${name}Hidden`];
  }

  function sizeOf(name) {
    const pane = panes[name];
    const room = pane.room();
    const wanted = state[name] === null ? pane.defaultSize(room) : state[name] * room;
    return Math.round(clamp(wanted, ...pane.limits(room)));
  }

  function layout() {
    for (const [name, pane] of Object.entries(panes)) {
      if (!isActive(name)) continue;
      const room = pane.room();
      if (room <= 0) continue;
      const [low, high] = pane.limits(room);
      const size = sizeOf(name);
      pane.apply(size);
      const percent = (px) => String(Math.round((100 * px) / room));
      pane.splitter.setAttribute("aria-valuemin", percent(low));
      pane.splitter.setAttribute("aria-valuemax", percent(Math.max(low, high)));
      pane.splitter.setAttribute("aria-valuenow", percent(size));
    }
  }

  function resize(name, px) {
    const pane = panes[name];
    const room = pane.room();
    if (room <= 0) return;
    state[name] = clamp(px, ...pane.limits(room)) / room;
    layout();
  }

  function watchSplitter(name) {
    const pane = panes[name];
    const splitter = pane.splitter;
    splitter.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || !isActive(name)) return;
      event.preventDefault();
      splitter.focus();
      splitter.setPointerCapture(event.pointerId);
      const start = pane.pointer(event);
      const startSize = pane.rendered();
      document.body.classList.add("resizing", `resizing-${name}`);
      function move(moveEvent) {
        resize(name, startSize + pane.direction * (pane.pointer(moveEvent) - start));
      }
      function stop() {
        splitter.removeEventListener("pointermove", move);
        splitter.removeEventListener("lostpointercapture", stop);
        document.body.classList.remove("resizing", `resizing-${name}`);
        remember();
      }
      splitter.addEventListener("pointermove", move);
      splitter.addEventListener("lostpointercapture", stop);
    });
    splitter.addEventListener("keydown", (event) => {
      if (!isActive(name)) return;
      const room = pane.room();
      const step = (event.shiftKey ? KEY_BIG_STEP : KEY_STEP) * room;
      const [low, high] = pane.limits(room);
      const current = pane.rendered();
      const targets = {
        [pane.growKey]: current + step,
        [pane.shrinkKey]: current - step,
        Home: low,
        End: high,
      };
      if (event.key === "Enter") {
        event.preventDefault();
        setHidden(name, true, { moveFocus: true });
        return;
      }
      if (!(event.key in targets)) return;
      event.preventDefault();
      resize(name, targets[event.key]);
      remember();
    });
    splitter.addEventListener("dblclick", () => {
      state[name] = null;
      layout();
      remember();
    });
  }

  // ---- hiding and showing the brief and the output ---------------------------------------------

  function render() {
    const briefHidden = state.briefHidden;
    briefPanel.hidden = briefHidden;
    panes.brief.splitter.hidden = briefHidden;
    showBrief.hidden = !briefHidden;
    workspace.classList.toggle("brief-hidden", briefHidden);

    const outputHidden = state.outputHidden;
    output.hidden = outputHidden;
    panes.output.splitter.hidden = outputHidden;
    editorColumn.classList.toggle("output-hidden", outputHidden);
    toggleOutput.setAttribute("aria-expanded", String(!outputHidden));
    if (!outputHidden) delete toggleOutput.dataset.unread;
    toggleOutput.textContent = outputHidden
      ? `Show output${toggleOutput.dataset.unread ? " (new)" : ""}`
      : "Hide output";
    layout();
  }

  function setHidden(name, hidden, { moveFocus }) {
    state[`${name}Hidden`] = hidden;
    render();
    remember();
    if (!moveFocus) return;
    if (name === "brief") (hidden ? showBrief : hideBrief).focus();
    else toggleOutput.focus();
  }

  hideBrief.addEventListener("click", () => setHidden("brief", true, { moveFocus: true }));
  showBrief.addEventListener("click", () => setHidden("brief", false, { moveFocus: true }));
  toggleOutput.addEventListener("click", () =>
    setHidden("output", !state.outputHidden, { moveFocus: true }),
  );
  // A result that arrives while the output is hidden is announced on its Show button.
  new MutationObserver(() => {
    if (!state.outputHidden) return;
    toggleOutput.dataset.unread = "true";
    render();
  }).observe(output, { childList: true });

  // ---- file tabs: the ones that do not fit are listed in a "more files" menu --------------------

  const tabList = document.getElementById("file-tabs");
  const tabStrip = tabList.parentElement;
  const overflow = document.getElementById("tab-overflow");
  const overflowButton = document.getElementById("tab-overflow-button");
  const overflowMenu = document.getElementById("tab-overflow-menu");
  const tabs = Array.from(tabList.querySelectorAll(".tab"));

  function overflowLabel(count) {
    return `+${count} more`;
  }

  function fitTabs() {
    tabs.forEach((tab) => (tab.hidden = false));
    overflow.hidden = true;
    const room = tabStrip.clientWidth;
    const gap = parseFloat(getComputedStyle(tabList).columnGap) || 0;
    const widths = tabs.map((tab) => tab.getBoundingClientRect().width);
    const total = widths.reduce((sum, width) => sum + width, 0) + gap * (tabs.length - 1);
    if (total <= room + 0.5) {
      closeMenu(false);
      overflowMenu.replaceChildren();
      return;
    }
    overflowButton.textContent = overflowLabel(tabs.length); // the widest it will be
    overflow.hidden = false;
    const space = room - overflow.getBoundingClientRect().width - gap;
    const selected = tabs.findIndex((tab) => tab.getAttribute("aria-selected") === "true");
    const shown = new Set();
    let used = 0;
    if (selected >= 0) {
      shown.add(selected);
      used = widths[selected];
    }
    for (let i = 0; i < tabs.length; i++) {
      if (i === selected) continue;
      const needed = (shown.size ? gap : 0) + widths[i];
      if (used + needed > space) break;
      shown.add(i);
      used += needed;
    }
    const hidden = tabs.filter((_, i) => !shown.has(i));
    hidden.forEach((tab) => (tab.hidden = true));
    overflowButton.textContent = overflowLabel(hidden.length);
    overflowButton.setAttribute(
      "aria-label",
      `${hidden.length} more file${hidden.length === 1 ? "" : "s"}`,
    );
    overflowMenu.replaceChildren(
      ...hidden.map((tab) => {
        const item = document.createElement("button");
        item.type = "button";
        item.className = `tab-overflow-item${tab.classList.contains("readonly") ? " readonly" : ""}`;
        item.textContent = tab.textContent.trim();
        item.dataset.path = tab.dataset.path;
        item.addEventListener("click", () => {
          closeMenu(false);
          tab.click(); // candidate.js opens the file; the tab is then shown (fitTabs)
        });
        return item;
      }),
    );
  }

  function openMenu() {
    overflowMenu.hidden = false;
    overflowButton.setAttribute("aria-expanded", "true");
    overflowMenu.querySelector("button")?.focus();
  }
  function closeMenu(moveFocus) {
    if (overflowMenu.hidden) return;
    overflowMenu.hidden = true;
    overflowButton.setAttribute("aria-expanded", "false");
    if (moveFocus) overflowButton.focus();
  }
  overflowButton.addEventListener("click", () =>
    overflowMenu.hidden ? openMenu() : closeMenu(true),
  );
  overflow.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !overflowMenu.hidden) {
      event.preventDefault();
      closeMenu(true);
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const items = Array.from(overflowMenu.querySelectorAll("button"));
    if (!items.length || overflowMenu.hidden) return;
    event.preventDefault();
    const at = items.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? at + 1 : at - 1;
    items[(next + items.length) % items.length].focus();
  });
  document.addEventListener("pointerdown", (event) => {
    if (!overflow.contains(event.target)) closeMenu(false);
  });
  overflow.addEventListener("focusout", (event) => {
    if (!overflow.contains(event.relatedTarget)) closeMenu(false);
  });
  new MutationObserver(fitTabs).observe(tabList, {
    subtree: true,
    attributes: true,
    attributeFilter: ["aria-selected"],
  });

  // ---- line wrapping (candidate.js applies it to the editors) ----------------------------------

  wrapBox.checked = state.wrap;
  wrapBox.addEventListener("change", () => {
    state.wrap = wrapBox.checked;
    remember();
  });

  // ---- start, and follow the window ------------------------------------------------------------

  watchSplitter("brief");
  watchSplitter("output");
  render();
  fitTabs();
  let pending = false;
  // Measured in the next frame: a ResizeObserver callback that changes sizes would loop.
  const relayout = new ResizeObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      layout();
      fitTabs();
    });
  });
  [workspace, editorColumn, toolbar, tabStrip].forEach((node) => relayout.observe(node));
  narrow.addEventListener("change", render);
})();
