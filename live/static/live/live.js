/* Live transcript pages: keeps /live/ and /live/<meeting>/ current over their WebSockets.
 *
 * Plain JavaScript, loaded from this file only (no inline script, so a strict Content-Security-Policy
 * works). The server renders everything it knows; this script adds what arrives afterwards.
 *
 * Transcript page: every segment carries (stream_id, seq); seq is numbered per stream. The page keeps
 * the highest seq seen per stream, drops anything at or below it, and reconnects with
 * ?after=<stream>:<seq>,... so it is sent only what it missed.
 */
(function () {
  "use strict";

  var FINAL_CODES = {
    4400: "The page asked for something the server does not understand. Reload the page.",
    4403: "You are not signed in as staff any more (signed out, or your account was changed). Sign in again.",
    4404: "There is no such meeting among those you may watch (or it no longer is one of them).",
    4410: "This meeting was erased. Nothing of it is shown any more.",
  };
  var CLOSE_GONE = 4410;
  var BACKOFF_START_MS = 500;
  var BACKOFF_CAP_MS = 10000;
  var NEAR_BOTTOM_PX = 48;

  function socketUrl(path, query) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path + (query ? "?" + query : "");
  }

  /* One WebSocket that comes back after a loss, with capped exponential back-off and jitter. */
  function ReconnectingSocket(options) {
    this.options = options;
    this.attempt = 0;
    this.stopped = false;
    this.connect();
  }
  ReconnectingSocket.prototype.connect = function () {
    var self = this;
    var ws = new WebSocket(socketUrl(this.options.path, this.options.query()));
    this.ws = ws;
    ws.onopen = function () {
      self.attempt = 0;
      self.options.onOpen();
    };
    ws.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      self.options.onMessage(message);
    };
    ws.onclose = function (event) {
      if (self.stopped) return;
      if (FINAL_CODES[event.code]) {
        self.stopped = true;
        self.options.onFinal(event.code, FINAL_CODES[event.code]);
        return;
      }
      self.attempt += 1;
      var delay = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * Math.pow(2, self.attempt - 1));
      delay = Math.round(delay / 2 + Math.random() * delay / 2);
      self.options.onRetry(self.attempt, delay);
      window.setTimeout(function () { self.connect(); }, delay);
    };
  };

  function setConnection(el, kind, text) {
    if (!el) return;
    el.setAttribute("data-connection", kind);
    el.textContent = text;
  }

  function retryText(attempt, delayMs) {
    return "Connection to the server lost. Reconnecting (attempt " + attempt + ", next try in " +
      Math.max(1, Math.round(delayMs / 1000)) + " s)… Lines spoken meanwhile will be filled in.";
  }

  /* --- time labels (same rules as live/views.py time_label) --------------------------------------- */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function timeLabel(startMs) {
    if (startMs === null || startMs === undefined) return null;
    if (startMs >= 1e12) {
      var d = new Date(startMs);
      return { label: pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()),
               value: d.toISOString() };
    }
    var s = Math.floor(startMs / 1000);
    return { label: "+" + pad(Math.floor(s / 60)) + ":" + pad(s % 60), value: "PT" + s + "S" };
  }

  /* --- the transcript page ------------------------------------------------------------------------ */
  function TranscriptPage(root) {
    this.root = root;
    this.box = document.getElementById("live-transcript");
    this.jump = document.getElementById("live-jump");
    this.count = document.getElementById("live-count");
    this.stateEl = document.getElementById("live-state");
    this.explanationEl = document.getElementById("live-explanation");
    this.connectionEl = document.getElementById("live-connection");
    this.seen = parseCursor(root.getAttribute("data-cursor") || "");
    this.streamId = intOrNull(root.getAttribute("data-stream"));
    this.transitionId = intOrNull(root.getAttribute("data-transition")) || 0;
    this.unread = 0;
    this.follow = true;
    var self = this;
    this.box.addEventListener("scroll", function () {
      self.follow = self.nearBottom();
      if (self.follow) self.clearUnread();
    });
    this.jump.addEventListener("click", function () {
      self.scrollToEnd();
      self.box.focus();
    });
    this.scrollToEnd();
    this.socket = new ReconnectingSocket({
      path: root.getAttribute("data-ws-path"),
      query: function () {
        var cursor = formatCursor(self.seen);
        return cursor ? "after=" + encodeURIComponent(cursor) : "";
      },
      onOpen: function () { setConnection(self.connectionEl, "catching-up", "Connected. Catching up…"); },
      onMessage: function (m) { self.onMessage(m); },
      onRetry: function (attempt, delay) {
        setConnection(self.connectionEl, "reconnecting", retryText(attempt, delay));
      },
      onFinal: function (code, text) {
        if (code === CLOSE_GONE) self.forget();
        setConnection(self.connectionEl, "refused", text);
      },
    });
  }

  /* The meeting was erased while the page was open: what it showed goes too. */
  TranscriptPage.prototype.forget = function () {
    while (this.box.firstChild) this.box.removeChild(this.box.firstChild);
    this.seen = {};
    if (this.count) this.count.textContent = "";
  };

  function intOrNull(text) {
    var n = parseInt(text, 10);
    return isNaN(n) ? null : n;
  }

  function parseCursor(text) {
    var seen = {};
    text.split(",").forEach(function (part) {
      var pair = part.split(":");
      if (pair.length === 2) seen[pair[0]] = parseInt(pair[1], 10);
    });
    return seen;
  }

  function formatCursor(seen) {
    return Object.keys(seen).sort(function (a, b) { return a - b; }).map(function (stream) {
      return stream + ":" + seen[stream];
    }).join(",");
  }

  TranscriptPage.prototype.onMessage = function (m) {
    if (m.type === "segments") this.addSegments(m.segments);
    else if (m.type === "state") this.setState(m);
    else if (m.type === "caught_up") {
      setConnection(this.connectionEl, "connected",
        this.stateEl.getAttribute("data-state") === "ended" ? "Stored transcript (complete)." : "Connected: following live.");
    }
  };

  TranscriptPage.prototype.setState = function (m) {
    if (m.state !== "ended" && m.stream_id !== null && this.streamId !== null) {
      if (m.stream_id < this.streamId) return;
      if (m.stream_id === this.streamId && m.transition_id < this.transitionId) return;
    }
    if (m.stream_id !== null) {
      this.streamId = m.stream_id;
      this.transitionId = m.transition_id;
    }
    var previous = this.stateEl.getAttribute("data-state");
    this.stateEl.setAttribute("data-state", m.state);
    this.stateEl.textContent = m.state;
    this.explanationEl.textContent = m.explanation;
    if (previous !== m.state && (m.state === "interrupted" || previous === "interrupted")) {
      this.addMarker(m.state === "interrupted" ? "Stream interrupted" : "Stream " + m.state + " again");
    }
  };

  TranscriptPage.prototype.nearBottom = function () {
    return this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight <= NEAR_BOTTOM_PX;
  };

  TranscriptPage.prototype.scrollToEnd = function () {
    this.box.scrollTop = this.box.scrollHeight;
    this.follow = true;
    this.clearUnread();
  };

  TranscriptPage.prototype.clearUnread = function () {
    this.unread = 0;
    this.jump.hidden = true;
  };

  TranscriptPage.prototype.lastTurn = function () {
    var turns = this.box.querySelectorAll(".live-turn");
    return turns.length ? turns[turns.length - 1] : null;
  };

  TranscriptPage.prototype.addMarker = function (text) {
    var follow = this.follow && this.nearBottom();
    var marker = document.createElement("p");
    marker.className = "live-marker";
    var label = timeLabel(Date.now());
    marker.textContent = "— " + text + " at " + label.label + " UTC —";
    this.box.appendChild(marker);
    if (follow) this.scrollToEnd();
  };

  TranscriptPage.prototype.addSegments = function (segments) {
    var follow = this.follow && this.nearBottom();
    var added = 0;
    var placeholder = document.getElementById("live-placeholder");
    for (var i = 0; i < segments.length; i++) {
      var s = segments[i];
      var key = String(s.stream_id);
      if (this.seen[key] !== undefined && s.seq <= this.seen[key]) continue; // a duplicate: drop it
      this.seen[key] = s.seq;
      if (placeholder) {
        placeholder.remove();
        placeholder = null;
      }
      this.appendLine(s);
      added += 1;
    }
    if (!added) return;
    this.count.textContent = String(parseInt(this.count.textContent, 10) + added);
    if (follow) {
      this.scrollToEnd();
    } else {
      this.unread += added;
      this.jump.hidden = false;
      this.jump.textContent = "Jump to the newest lines (" + this.unread + " new)";
    }
  };

  TranscriptPage.prototype.appendLine = function (s) {
    var speaker = s.speaker_name || "Unknown speaker";
    var turn = this.lastTurn();
    if (!turn || turn.getAttribute("data-speaker") !== speaker || turn.nextElementSibling) {
      turn = document.createElement("div");
      turn.className = "live-turn";
      turn.setAttribute("data-speaker", speaker);
      var head = document.createElement("p");
      head.className = "live-speaker";
      head.textContent = speaker;
      turn.appendChild(head);
      this.box.appendChild(turn);
    }
    var line = document.createElement("p");
    line.className = "live-line";
    line.setAttribute("data-stream", String(s.stream_id));
    line.setAttribute("data-seq", String(s.seq));
    var t = timeLabel(s.start_ms);
    if (t) {
      var time = document.createElement("time");
      time.setAttribute("datetime", t.value);
      time.textContent = t.label;
      line.appendChild(time);
      line.appendChild(document.createTextNode(" "));
    }
    var text = document.createElement("span");
    text.className = "live-text";
    text.textContent = s.text;
    line.appendChild(text);
    turn.appendChild(line);
  };

  /* --- the list of live meetings ------------------------------------------------------------------ */
  function ListPage(root) {
    this.body = document.querySelector("#live-meetings tbody");
    this.empty = document.getElementById("live-empty");
    this.connectionEl = document.getElementById("live-connection");
    var self = this;
    this.socket = new ReconnectingSocket({
      path: root.getAttribute("data-ws-path"),
      query: function () { return ""; },
      onOpen: function () {},
      onMessage: function (m) { self.onMessage(m); },
      onRetry: function (attempt, delay) {
        setConnection(self.connectionEl, "reconnecting", retryText(attempt, delay).replace(
          " Lines spoken meanwhile will be filled in.", " The list may be out of date; reload to refresh it."));
      },
      onFinal: function (code, text) { setConnection(self.connectionEl, "refused", FINAL_CODES[4403]); },
    });
  }

  ListPage.prototype.onMessage = function (m) {
    if (m.type === "ready") {
      setConnection(this.connectionEl, "connected", "Connected: this list updates by itself.");
    } else if (m.type === "meeting") {
      this.upsert(m.row);
    } else if (m.type === "gone") {
      var row = this.body.querySelector('tr[data-meeting="' + Number(m.meeting_id) + '"]');
      if (row) row.remove();
    }
    this.empty.hidden = this.body.querySelectorAll("tr[data-meeting]").length > 0;
  };

  function cell(child) {
    var td = document.createElement("td");
    if (child) td.appendChild(child);
    return td;
  }

  function timeEl(iso, withDate) {
    var d = new Date(iso);
    var t = document.createElement("time");
    t.setAttribute("datetime", iso);
    var clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    t.textContent = withDate ? d.toISOString().slice(0, 10) + " " + clock : clock;
    return t;
  }

  ListPage.prototype.upsert = function (r) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-meeting", String(r.meeting_id));
    var link = document.createElement("a");
    link.href = r.url;
    link.textContent = r.title;
    tr.appendChild(cell(link));
    var region = cell(document.createTextNode(r.region_name + " "));
    var code = document.createElement("span");
    code.className = "live-muted";
    code.textContent = "(" + r.region_code + ")";
    region.appendChild(code);
    tr.appendChild(region);
    tr.appendChild(cell(r.started_at ? timeEl(r.started_at, true) : null));
    var badge = document.createElement("span");
    badge.className = "live-badge";
    badge.setAttribute("data-state", r.state);
    badge.textContent = r.state;
    tr.appendChild(cell(badge));
    var health = cell(null);
    if (r.stream_since) {
      health.appendChild(document.createTextNode(r.state + " since "));
      health.appendChild(timeEl(r.stream_since, false));
    } else {
      health.appendChild(document.createTextNode("no stream yet"));
    }
    if (r.interruptions) {
      health.appendChild(document.createTextNode(
        ", " + r.interruptions + " interruption" + (r.interruptions === 1 ? "" : "s")));
    }
    tr.appendChild(health);
    var old = this.body.querySelector('tr[data-meeting="' + Number(r.meeting_id) + '"]');
    if (old) this.body.replaceChild(tr, old);
    else this.body.insertBefore(tr, this.body.firstChild);
  };

  function start() {
    var meeting = document.getElementById("live-meeting");
    if (meeting) window.liveTranscript = new TranscriptPage(meeting);
    var list = document.getElementById("live-list");
    if (list) window.liveList = new ListPage(list);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
