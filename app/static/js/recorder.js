// The session recorder of the candidate's challenge page (issue 14, session replay): what the
// candidate does is kept as events and sent to the server in batches every few seconds and when
// the page is hidden. Nothing here blocks typing: recording only appends to a list in memory.
// The invite's landing page tells the candidate what is recorded. The event format is the
// server's (docs/api.md, "Session events").
(function () {
  "use strict";

  const SEND_EVERY_MS = 3000;
  const RETRY_FIRST_MS = 2000;
  const RETRY_MAX_MS = 60000;
  const BATCH_EVENTS = 500;
  const BATCH_BYTES = 200 * 1024;
  const KEEPALIVE_BYTES = 60 * 1024; // browsers cap a keepalive request's body at 64 KB

  function newSession() {
    const bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /**
   * options: url (the events endpoint), csrfToken (function), onStopped (function(message)),
   * called once when the server will take no more events (the attempt ended).
   * Returns {record(kind, file, data, reserved), reserve(), flush(keepalive), close()}.
   * reserve() takes the next seq and the time now for an event sent later: a run or submit is
   * recorded when the server answers, but belongs where its files were taken.
   */
  function create(options) {
    const session = newSession();
    const pending = [];
    let seq = 0;
    let inFlight = false;
    let stopped = false;
    let closing = false;
    let retryDelay = 0;
    let timer = null;

    function reserve() {
      return { seq: ++seq, t: Date.now() };
    }

    function record(kind, file, data, reserved) {
      if (stopped || closing) return;
      const event = { ...(reserved || reserve()), kind };
      if (file) event.file = file;
      if (data) event.data = data;
      pending.push(event);
      if (reserved) pending.sort((a, b) => a.seq - b.seq);
      if (!timer && !inFlight) timer = setTimeout(() => flush(false), SEND_EVERY_MS);
    }

    // The attempt is over: send what is recorded, then record nothing more (the server refuses
    // a batch that holds an event made after the end).
    function close() {
      flush(false);
      closing = true;
    }

    function takeBatch(limitBytes) {
      const batch = [];
      let bytes = 0;
      for (const event of pending) {
        const size = JSON.stringify(event).length + 1;
        if (batch.length && (batch.length >= BATCH_EVENTS || bytes + size > limitBytes)) break;
        batch.push(event);
        bytes += size;
      }
      return batch;
    }

    async function flush(keepalive) {
      clearTimeout(timer);
      timer = null;
      if (stopped || inFlight || !pending.length) return;
      const batch = takeBatch(keepalive ? KEEPALIVE_BYTES : BATCH_BYTES);
      inFlight = true;
      let status = 0;
      let body = null;
      try {
        const response = await fetch(options.url, {
          method: "POST",
          credentials: "same-origin",
          cache: "no-store",
          keepalive: Boolean(keepalive),
          headers: {
            Accept: "application/json",
            "Content-Type": "application/json",
            "X-CSRFToken": options.csrfToken(),
          },
          body: JSON.stringify({ session, events: batch }),
        });
        status = response.status;
        body = await response.json().catch(() => null);
      } catch (err) {
        status = 0; // the network: the events stay in memory and go with a later try
      }
      inFlight = false;
      if (status === 200) {
        pending.splice(0, batch.length);
        retryDelay = 0;
      } else if (status === 403 || status === 409 || status === 404 || status === 410) {
        stopped = true; // the attempt is over (or gone): nothing more will be taken
        pending.length = 0;
        if (options.onStopped) options.onStopped(body && body.error);
        return;
      } else if (status === 0 || status === 429 || status >= 500) {
        retryDelay = Math.min(RETRY_MAX_MS, retryDelay ? retryDelay * 2 : RETRY_FIRST_MS);
      } else {
        // Refused as malformed: a fault of this page, not of the network. Those events are
        // dropped so the ones after them still reach the server (the server records the gap).
        pending.splice(0, batch.length);
      }
      if (pending.length && !keepalive) {
        timer = setTimeout(() => flush(false), retryDelay || SEND_EVERY_MS);
      }
    }

    window.addEventListener("online", () => {
      if (retryDelay) flush(false);
    });
    return { record, reserve, flush, close };
  }

  window.FaultlineRecorder = { create };
})();
