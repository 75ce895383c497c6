// app.js: the Mini App page. It reads Telegram's launch parameters, decodes
// the transfer intent from start_param itself (intent.js), shows it, and posts
// the raw initData to the parent's API when, and only when, the user taps
// Approve: Telegram signs initData when the page opens, so any initData that
// reaches the host is an approval. Cancel sends nothing. Every text the page
// shows is its own (no message from the host is displayed). docs/miniapp.md
// explains what it shows and why.
(function () {
  "use strict";

  var AI = window.AutowalletIntent;
  var AW = window.AutowalletWallet;
  var CLOSE_DELAY_MS = 2000;
  // After the page's Cancel, time to read where to cancel the transfer.
  var CANCEL_CLOSE_DELAY_MS = 4000;

  // Every answer of the API comes after the user tapped Approve, so after
  // initData (the approval) has left the page: whatever the host answers, it
  // holds an approval the enclave may still sign, and this exact transfer
  // may still be sent. So no answer says "Nothing was sent" or invites a new
  // transfer (a new transfer next to a live approval could send twice): each
  // ends with AFTER_APPROVE, which points to the card in the chat and to
  // Replace (docs/miniapp.md, "After Approve").
  var AFTER_APPROVE = "Your approval has left this page, so this exact transfer may still be sent. Check its card in the chat; if it must not go through, use Replace there rather than starting a new transfer.";
  // The page's own sentence for each error code of the API (docs/protocol.md
  // 6.1 and the parent's own codes). The host chooses the code, never the
  // words: its message is not shown, and any other code, a body that is not
  // the API's error shape, or no answer at all gets one of the fixed
  // sentences below (docs/miniapp.md, "Only the page's own sentences").
  // Each names the wallet service as the one who says it: it is the host's
  // claim, not a fact the page checked.
  var MESSAGES = {
    malformed_request: "The wallet service did not understand the request.",
    too_large: "The request was too large for the wallet service.",
    not_found: "The wallet service could not be reached at this address.",
    method_not_allowed: "The wallet service refused the request.",
    malformed_init_data: "The wallet service could not read Telegram's launch data.",
    bad_signature: "The wallet service could not verify Telegram's signature on this request.",
    stale_auth: "The wallet service says this approval screen is too old.",
    malformed_intent: "The wallet service could not read this transfer request.",
    intent_expired: "The wallet service says this transfer request has expired.",
    malformed_record: "The wallet service could not read your wallet record.",
    record_tampered: "The wallet service says your wallet record failed its integrity check.",
    wrong_owner: "The wallet service says this wallet belongs to another Telegram account.",
    wrong_wallet: "The wallet service says this transfer is not from your wallet.",
    chain_not_allowed: "The wallet service says this network is not enabled for this wallet.",
    token_not_supported: "The wallet service says token transfers are not supported yet.",
    token_not_allowed: "The wallet service says this token is not enabled for this wallet on this network.",
    vault_locked: "The signing service is starting up. You can tap Approve again in a minute.",
    internal: "Something went wrong in the wallet service. You can tap Approve again.",
    unknown_transfer: "The wallet service does not know this transfer request; it may have been replaced.",
    already_approved: "The wallet service says this transfer was already approved.",
    transfer_closed: "The wallet service says this transfer is already closed (cancelled, expired or finished).",
    enclave_unavailable: "The signing service is unavailable right now. You can tap Approve again in a minute.",
  };
  for (var code in MESSAGES) {
    MESSAGES[code] += " " + AFTER_APPROVE;
  }
  // UNKNOWN_ANSWER is the one sentence for everything else: an unknown code,
  // a success with an unknown status, a body that is not the API's JSON, no
  // answer at all (network error, refused by the page's policy).
  var UNKNOWN_ANSWER = "The wallet service could not be reached or gave an answer this page does not understand. " + AFTER_APPROVE;
  // The page's Cancel sends nothing (no initData: it would be an approval in
  // the host's hands); the chat card's Cancel button cancels the transfer.
  var CANCELLED_HERE = "To cancel the transfer, tap Cancel on its card in the chat. This page is closing.";
  // The same Cancel after an approval left the page (a retryable answer
  // kept the page open).
  var CANCELLED_AFTER_APPROVE = AFTER_APPROVE + " This page is closing.";
  // Before any Approve an expired intent may say so plainly; after one, the
  // approval is in the host's hands (it may have reached the enclave before
  // the expiry).
  var EXPIRED = "This transfer request has expired. Start the transfer again in the chat.";
  var EXPIRED_AFTER_APPROVE = "This transfer request has expired on this page. " + AFTER_APPROVE;
  // Errors after which trying again can help: Approve comes back, and only
  // another tap of the user sends initData again (the page never retries by
  // itself). After any other answer, Approve is removed.
  var RETRYABLE = {
    vault_locked: true,
    internal: true,
    enclave_unavailable: true,
    "": true, // UNKNOWN_ANSWER: a network error is worth another tap
  };
  // Success sentences, by the status of a 200 answer. The transaction hash
  // is not shown: it would be the host's text; the chat card follows the
  // transfer.
  var DONE = {
    sent: "Approved. The transfer was sent to the network. Its card in the chat follows it.",
    approved: "Approved. The transfer will be sent shortly. Its card in the chat follows it.",
    confirmed: "Approved. The network has already included the transfer. Its card in the chat shows it.",
  };
  // The page's own reason for each other state a 200 answer can report
  // (storage's transfer states): "Done: failed" is not a reason. Like the
  // error codes, the host picks which sentence, never its words, and each
  // ends with AFTER_APPROVE: it is the host's claim, and the approval has
  // left the page. All are final: Approve goes.
  var CLOSED = {
    failed: "The wallet service says this transfer failed on the network: it was included but did not go through (for example the token contract refused it), so the amount did not move and the network fee was paid.",
    replaced: "The wallet service says another transaction of your wallet with the same nonce was included instead of this one, so this transfer will not be paid.",
    superseded: "The wallet service says a newer request of your wallet took this transfer's place before it was approved.",
    cancelled: "The wallet service says this transfer was cancelled.",
    expired: "The wallet service says this transfer request expired before it could be approved.",
  };
  for (var st in CLOSED) {
    CLOSED[st] += " " + AFTER_APPROVE;
  }

  function $(id) {
    return document.getElementById(id);
  }

  // ---- Telegram: launch parameters, theme, events

  // safeDecode is telegram-web-app.js's urlSafeDecode: '+' is a space, an
  // invalid escape leaves the text as it is.
  function safeDecode(s) {
    try {
      return decodeURIComponent(s.replace(/\+/g, "%20"));
    } catch (e) {
      return s;
    }
  }

  // parseQuery is telegram-web-app.js's urlParseQueryString.
  function parseQuery(q) {
    var params = {};
    if (!q.length) {
      return params;
    }
    var parts = q.split("&");
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split("=");
      params[safeDecode(kv[0])] = kv[1] == null ? null : safeDecode(kv[1]);
    }
    return params;
  }

  // parseHash is telegram-web-app.js's urlParseHashParams.
  function parseHash(hash) {
    hash = hash.replace(/^#/, "");
    var params = {};
    if (!hash.length) {
      return params;
    }
    if (hash.indexOf("=") < 0 && hash.indexOf("?") < 0) {
      params._path = safeDecode(hash);
      return params;
    }
    var q = hash.indexOf("?");
    if (q >= 0) {
      params._path = safeDecode(hash.substr(0, q));
      hash = hash.substr(q + 1);
    }
    var qp = parseQuery(hash);
    for (var k in qp) {
      params[k] = qp[k];
    }
    return params;
  }

  // parseInitData reads initData the way the enclave does (docs/protocol.md
  // 2.1): at most 8192 bytes of UTF-8, pairs split on '&', form-urlencoded,
  // no empty part, no part without '=', no key twice, no control character
  // (U+0000..U+001F: '\n' is the data-check-string's separator) and no
  // invalid UTF-8 in a decoded key or value. It returns null for anything
  // else, so the page never shows a start_param the enclave would not read.
  // bot/miniapp's TestInitDataReaderAgreesWithGo compares it with Go's.
  function parseInitData(raw) {
    if (!raw || typeof raw !== "string") {
      return null;
    }
    var bytes;
    try {
      // The limit is in UTF-8 bytes, as the enclave counts; a lone
      // surrogate (no UTF-8 form) makes encodeURIComponent throw.
      bytes = encodeURIComponent(raw).replace(/%[0-9A-F]{2}/g, "x").length;
    } catch (e) {
      return null;
    }
    if (bytes > 8192) {
      return null;
    }
    var out = Object.create(null);
    var parts = raw.split("&");
    for (var i = 0; i < parts.length; i++) {
      var p = parts[i];
      var eq = p.indexOf("=");
      if (eq <= 0) {
        return null;
      }
      var k, v;
      try {
        // decodeURIComponent refuses an escape that is not valid UTF-8.
        k = decodeURIComponent(p.substring(0, eq).replace(/\+/g, " "));
        v = decodeURIComponent(p.substring(eq + 1).replace(/\+/g, " "));
      } catch (e) {
        return null;
      }
      if (/[\u0000-\u001f=]/.test(k) || /[\u0000-\u001f]/.test(v)) {
        return null;
      }
      if (k in out) {
        return null;
      }
      out[k] = v;
    }
    return out;
  }

  var webApp = window.Telegram && window.Telegram.WebApp;
  var hashParams = (function () {
    try {
      return parseHash(location.hash.toString());
    } catch (e) {
      return {};
    }
  })();
  var queryParams = parseQuery(location.search.replace(/^\?/, ""));

  // The launch: from telegram-web-app.js when it loaded and knows the
  // initData, else from the URL exactly as that script reads it.
  var launch = {
    initData: "",
    themeParams: {},
    colorScheme: "",
  };
  if (webApp && typeof webApp.initData === "string" && webApp.initData) {
    launch.initData = webApp.initData;
    launch.themeParams = webApp.themeParams || {};
    launch.colorScheme = webApp.colorScheme || "";
  } else {
    webApp = null;
    launch.initData = hashParams.tgWebAppData || "";
    try {
      launch.themeParams = hashParams.tgWebAppThemeParams ? JSON.parse(hashParams.tgWebAppThemeParams) : {};
    } catch (e) {
      launch.themeParams = {};
    }
  }
  var initFields = parseInitData(launch.initData);

  // postEvent sends a Telegram Web event to the parent frame, as Telegram
  // Web's iframe host expects them.
  function postEvent(type, data) {
    try {
      if (window.TelegramWebviewProxy && window.TelegramWebviewProxy.postEvent) {
        window.TelegramWebviewProxy.postEvent(type, JSON.stringify(data || {}));
      } else if (window.external && "notify" in window.external) {
        window.external.notify(JSON.stringify({ eventType: type, eventData: data || {} }));
      } else if (window.parent && window.parent !== window) {
        window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data || {} }), "*");
      }
    } catch (e) {
      // Nothing to tell: outside Telegram there is no host to close us.
    }
  }

  function ready() {
    if (webApp) {
      try {
        webApp.ready();
        webApp.expand();
        return;
      } catch (e) {}
    }
    postEvent("web_app_ready", {});
    postEvent("web_app_expand", {});
  }

  function closeApp() {
    if (webApp) {
      try {
        webApp.close();
        return;
      } catch (e) {}
    }
    postEvent("web_app_close", {});
  }

  // applyTheme sets the --tg-theme-* variables style.css reads (as
  // telegram-web-app.js does), accepting only #rgb / #rrggbb colours.
  function applyTheme(tp) {
    var root = document.documentElement;
    var any = false;
    for (var key in tp) {
      var val = tp[key];
      if (/^[a-z_]{1,40}$/.test(key) && typeof val === "string" && /^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(val)) {
        root.style.setProperty("--tg-theme-" + key.replace(/_/g, "-"), val);
        any = true;
      }
    }
    if (any) {
      root.classList.add("tg-theme");
    }
    var scheme = launch.colorScheme;
    if (!scheme && typeof tp.bg_color === "string" && /^#[0-9a-fA-F]{6}$/.test(tp.bg_color)) {
      var n = parseInt(tp.bg_color.substr(1), 16);
      var lum = 0.2126 * ((n >> 16) & 255) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255);
      scheme = lum < 120 ? "dark" : "light";
    }
    if (scheme === "dark" || scheme === "light") {
      root.setAttribute("data-scheme", scheme);
    }
  }

  // ---- API

  // apiBase is the page's own origin, unless ?api=<origin> names another one
  // (https, or http on a loopback host for development). An api parameter
  // that is not a bare origin is refused.
  function apiBase() {
    var api = queryParams.api;
    if (api == null || api === "") {
      return { origin: location.origin };
    }
    var u;
    try {
      u = new URL(api);
    } catch (e) {
      return { error: "The page address names an invalid API origin." };
    }
    var loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
    if (!(u.protocol === "https:" || (u.protocol === "http:" && loopback))) {
      return { error: "The page address names an API origin that is not https." };
    }
    if (u.username || u.password || (u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || api.replace(/\/$/, "") !== u.origin) {
      return { error: "The page address names an API that is not a bare origin." };
    }
    return { origin: u.origin };
  }

  // ---- rendering

  function setText(id, text) {
    var el = $(id);
    if (el) {
      el.textContent = text;
    }
  }

  // showAddress writes the full address and marks its first and last
  // characters, which people compare first; the text stays exactly the address.
  function showAddress(id, addr) {
    var el = $(id);
    el.textContent = "";
    var head = document.createElement("span");
    head.className = "addr-edge";
    head.textContent = addr.substr(0, 6);
    var mid = document.createTextNode(addr.substr(6, addr.length - 10));
    var tail = document.createElement("span");
    tail.className = "addr-edge";
    tail.textContent = addr.substr(addr.length - 4);
    el.appendChild(head);
    el.appendChild(mid);
    el.appendChild(tail);
  }

  function showError(text) {
    var el = $("error");
    el.textContent = text;
    el.hidden = !text;
  }

  function showStatus(text, kind) {
    var el = $("status");
    el.textContent = text;
    el.className = kind || "";
  }

  // removeCancel removes the page's Cancel and the hint about it.
  function removeCancel() {
    var ids = ["cancel", "cancel-hint"];
    for (var i = 0; i < ids.length; i++) {
      var el = $(ids[i]);
      if (el) {
        el.remove();
      }
    }
  }

  function removeApprove() {
    var b = $("approve");
    if (b) {
      b.remove();
    }
  }

  // relativeText says when the intent expires, "in 10 min" style: whole
  // minutes rounded down (never more time than is left), seconds only in
  // the last two minutes. The absolute time is in the row's tooltip.
  function relativeText(secs) {
    if (secs >= 86400) {
      return "in " + Math.floor(secs / 86400) + " d " + Math.floor((secs % 86400) / 3600) + " h";
    }
    if (secs >= 3600) {
      return "in " + Math.floor(secs / 3600) + " h " + Math.floor((secs % 3600) / 60) + " min";
    }
    if (secs >= 120) {
      return "in " + Math.floor(secs / 60) + " min";
    }
    if (secs >= 60) {
      return "in 1 min " + (secs % 60) + " s";
    }
    return "in " + secs + " s";
  }

  var state = {
    intent: null,
    approved: false, // initData has left the page (Approve was tapped)
    busy: false,
    done: false,
    timer: 0,
  };

  function nowSeconds() {
    return BigInt(Math.floor(Date.now() / 1000));
  }

  // stopCountdown ends the countdown once the transfer is decided (approved,
  // sent, failed, closed, or the page's Cancel): the row then says so
  // instead of counting down to an expiry that no longer matters here.
  function stopCountdown(text) {
    clearInterval(state.timer);
    state.timer = 0;
    var exp = $("expiry");
    if (exp && exp.className !== "expired") {
      exp.textContent = text;
      exp.className = "stopped";
    }
  }

  function markExpired() {
    clearInterval(state.timer);
    setText("expiry", "Expired");
    $("expiry").className = "expired";
    removeApprove();
    document.body.setAttribute("data-state", "expired");
    if (!state.done) {
      showError(state.approved ? EXPIRED_AFTER_APPROVE : EXPIRED);
    }
  }

  function tick() {
    var left = state.intent.expiry - nowSeconds();
    if (left <= 0n) {
      markExpired();
      return;
    }
    setText("expiry", relativeText(Number(left)));
  }

  // renderBase shows what needs no config: the recipient and the expiry.
  function renderBase(it) {
    showAddress("recipient", it.to);
    setText("network", "Chain id " + it.chainId.toString());
    var exp = $("expiry");
    var ms = Number(it.expiry) * 1000;
    if (Number.isFinite(ms) && ms <= 8.64e15) {
      exp.setAttribute("title", "Expires at " + new Date(ms).toLocaleString());
    }
    if (!it.isNative) {
      showAddress("token", it.token);
      $("token-row").hidden = false;
    }
    $("details").hidden = false;
  }

  // The sentences for what the page's own list does not know (shown before
  // any Approve, which is removed).
  function unknownNetwork(id) {
    return "This network (chain id " + id + ") is not one this wallet knows, so its coin, the amount and the fee cannot be shown. It cannot be approved here.";
  }
  function unknownToken(net, addr) {
    return "This token is not one this wallet knows on " + net.name + ": contract " + addr + ". Its name and amount cannot be shown, so it cannot be approved here. A name for it in the chat proves nothing.";
  }

  // renderMoney shows the network, amount, fee and total from the page's
  // own config (cfg; null when it could not be loaded): a network's name
  // and coin and a token's symbol and decimals come only from there, never
  // from the host. It returns the sentence why the transfer cannot be
  // approved ({why, state}: unknown network or token), or null.
  function renderMoney(it, cfg) {
    var id = it.chainId.toString();
    var net = cfg ? AW.networkOf(cfg, it.chainId) : null;
    if (!net) {
      // Without the page's list nothing but the chain id can be named: the
      // amount's unit is unknown.
      setText("network", (cfg ? "Unknown network" : "Chain") + " (chain id " + id + ")");
      $("details").classList.add("partial");
      return cfg ? { why: unknownNetwork(id), state: "unknown_network" } : null;
    }
    setText("network", net.name + " (chain id " + id + ")");
    var coin = " " + net.nativeSymbol;
    // Maxima round up (docs/miniapp.md, "Amounts: one rounding rule").
    var fee = AI.formatAmount(it.maxFee, net.nativeDecimals, "up") + coin;
    var l1 = net.l1DataFee;
    setText("fee", fee + (l1 ? " plus an L1 data fee" : ""));
    setText("fee-detail", it.gasLimit.toString() + " gas × " + AI.formatUnits(it.maxFeePerGas, 9) + " gwei at most");
    if (l1) {
      // The intent carries no L1 data fee (the enclave signs gas and fees
      // only): the page cannot know it, and says so rather than leave it out.
      setText("l1-note", net.name + " also charges an L1 data fee, paid in " + net.nativeSymbol + " from your wallet for publishing the transaction on Ethereum. It is not part of this request, so this page cannot show it: the transfer's card in the chat shows an estimate.");
      $("l1-note").hidden = false;
    }
    var andL1 = l1 ? " plus the L1 data fee" : "";
    if (it.isNative) {
      // The amount is what is signed: every digit.
      setText("amount", AI.formatAmount(it.amount, net.nativeDecimals, "exact") + coin);
      setText("total", AI.formatAmount(it.maxCost, net.nativeDecimals, "up") + coin + andL1);
      return null;
    }
    var tok = AW.tokenOf(net, it.token);
    if (!tok) {
      setText("amount", "An unknown token: see the warning");
      setText("total", "Unknown");
      return { why: unknownToken(net, it.token), state: "unknown_token" };
    }
    var amount = AI.formatAmount(it.amount, tok.decimals, "exact") + " " + tok.symbol;
    setText("amount", amount);
    setText("token-check", tok.symbol + " on " + net.name + ", from this wallet's own list");
    setText("total", amount + " + at most " + fee + " fee" + andL1);
    return null;
  }

  // ---- actions

  function setBusy(busy) {
    state.busy = busy;
    var ids = ["approve", "cancel"];
    for (var i = 0; i < ids.length; i++) {
      var b = $(ids[i]);
      if (b) {
        b.disabled = busy;
      }
    }
    document.body.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // approve is the only place initData leaves the page: one request per tap
  // of Approve, never on load, Cancel, close or an error, never retried
  // automatically.
  function approve() {
    if (state.busy || state.done) {
      return;
    }
    var api = apiBase();
    if (api.error) {
      showError(api.error);
      return;
    }
    setBusy(true);
    state.approved = true;
    showError("");
    showStatus("Approving…", "pending");
    fetch(api.origin + "/miniapp/api/approve", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ init_data: launch.initData }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      redirect: "error",
    })
      .then(function (resp) {
        return resp.text().then(function (text) {
          var body = null;
          try {
            body = JSON.parse(text);
          } catch (e) {}
          return { ok: resp.ok, body: body };
        });
      })
      .then(function (r) {
        var b = r.body && typeof r.body === "object" ? r.body : {};
        if (r.ok && typeof b.status === "string" && Object.prototype.hasOwnProperty.call(DONE, b.status)) {
          succeed(DONE[b.status]);
          return;
        }
        if (r.ok && typeof b.status === "string" && Object.prototype.hasOwnProperty.call(CLOSED, b.status)) {
          closedWith(b.status);
          return;
        }
        // Only the code is read from an error, and only to pick a sentence.
        var code = !r.ok && b.error && typeof b.error.code === "string" ? b.error.code : "";
        if (!Object.prototype.hasOwnProperty.call(MESSAGES, code)) {
          code = "";
        }
        failWith(code);
      })
      .catch(function () {
        failWith("");
      });
  }

  // cancelHere answers the page's Cancel without any request: the transfer
  // is cancelled with the chat card's Cancel button (a callback Telegram
  // authenticates), so no Telegram signature ever travels for a refusal.
  function cancelHere() {
    if (state.busy || !$("cancel")) {
      return;
    }
    state.done = true;
    stopCountdown("Stopped: this page was cancelled");
    removeApprove();
    removeCancel();
    showError("");
    showStatus(state.approved ? CANCELLED_AFTER_APPROVE : CANCELLED_HERE, "");
    document.body.setAttribute("data-state", "cancelled");
    setTimeout(closeApp, CANCEL_CLOSE_DELAY_MS);
  }

  function succeed(text) {
    state.done = true;
    stopCountdown("Approved");
    setBusy(false);
    removeApprove();
    removeCancel();
    showStatus(text, "success");
    document.body.setAttribute("data-state", "done");
    setTimeout(closeApp, CLOSE_DELAY_MS);
  }

  // failWith shows the page's sentence for code ("" for anything unknown).
  // A final answer is a decision: the countdown stops.
  function failWith(code) {
    showStatus("", "");
    showError(code ? MESSAGES[code] : UNKNOWN_ANSWER);
    setBusy(false);
    if (!RETRYABLE[code]) {
      state.done = true;
      stopCountdown("Stopped: see the message above");
      removeApprove();
    }
    document.body.setAttribute("data-state", "error");
  }

  // closedWith shows the page's reason for a closed state a 200 reported
  // (failed, replaced, ...): final, the countdown stops.
  function closedWith(status) {
    showStatus("", "");
    showError(CLOSED[status]);
    setBusy(false);
    state.done = true;
    stopCountdown("Stopped: see the message above");
    removeApprove();
    removeCancel();
    document.body.setAttribute("data-state", status === "failed" ? "failed" : "closed");
  }

  // ---- start

  function start() {
    applyTheme(launch.themeParams || {});
    ready();
    $("approve").addEventListener("click", approve);
    $("cancel").addEventListener("click", cancelHere);

    if (!launch.initData) {
      removeApprove();
      removeCancel();
      showError("Open this page from the Telegram chat with the wallet bot: it has no Telegram launch data.");
      document.body.setAttribute("data-state", "unreadable");
      return;
    }
    if (!initFields) {
      removeApprove();
      showError("Telegram's launch data could not be read. Open the request again from the chat.");
      document.body.setAttribute("data-state", "unreadable");
      return;
    }
    // The enclave signs the start_param inside initData; a different one in
    // the URL would mean the page is not showing what gets signed.
    var sp = initFields.start_param;
    var qsp = queryParams.tgWebAppStartParam;
    if (sp == null) {
      sp = qsp;
      // Without a start_param in initData the enclave refuses anyway.
      if (sp != null) {
        removeApprove();
      }
    } else if (qsp != null && qsp !== sp) {
      removeApprove();
      showError("This request is inconsistent (two different transfers in one launch). Nothing can be approved.");
      document.body.setAttribute("data-state", "unreadable");
      return;
    }
    // A receive link (kind 0x02) opens the Receive view (receive.js), which
    // sends nothing to the host.
    if (sp != null && AI.startParamKind(sp) === AI.KIND_WALLET) {
      window.AutowalletReceive.start({ initFields: initFields, startParam: sp, close: closeApp });
      return;
    }
    var it;
    try {
      it = AI.decodeStartParam(sp == null ? "" : sp);
    } catch (e) {
      removeApprove();
      showError("This transfer request cannot be read, so it cannot be approved. (" + (e && e.message) + ")");
      document.body.setAttribute("data-state", "unreadable");
      return;
    }
    state.intent = it;
    // The "From" row: "Your wallet" only if the wallet proof verifies for the
    // launch's user (receive.js); Approve waits for it below.
    var fromChecked = window.AutowalletReceive.checkFrom(it, initFields);
    // The network, amount and fee wait for the page's own config (the same
    // single fetch the From check uses); a config that cannot be loaded
    // names nothing, and the From check then says why Approve stays off.
    var money = AW.loadConfig()
      .then(
        function (cfg) {
          return renderMoney(it, cfg);
        },
        function () {
          return renderMoney(it, null);
        },
      )
      .catch(function () {
        return { why: "This transfer could not be shown, so it cannot be approved here.", state: "unreadable" };
      });
    renderBase(it);
    if (it.expiry <= nowSeconds()) {
      markExpired();
      return;
    }
    tick();
    state.timer = setInterval(tick, 1000);
    if (!$("approve")) {
      showError("Telegram's launch data carries no transfer, so it cannot be approved.");
      document.body.setAttribute("data-state", "unreadable");
      return;
    }
    if (apiBase().error) {
      removeApprove();
      showError(apiBase().error);
      document.body.setAttribute("data-state", "unreadable");
      return;
    }
    // Approve is enabled only for a transfer from the user's own wallet, as
    // the enclave's proof says (it refuses others with bad_wallet_proof).
    Promise.all([fromChecked, money]).then(function (r) {
      var yours = r[0];
      var unknown = r[1];
      if (state.done || !$("approve") || document.body.getAttribute("data-state") !== "loading") {
        return; // expired or closed meanwhile
      }
      // A network or token the page's own list does not know is never
      // approvable here: Approve is removed, whatever the From check says.
      if (unknown) {
        removeApprove();
        showError(unknown.why);
        document.body.setAttribute("data-state", unknown.state);
        return;
      }
      if (!yours) {
        document.body.setAttribute("data-state", "unverified");
        return;
      }
      $("approve").disabled = false;
      document.body.setAttribute("data-state", "ready");
    });
  }

  // Exposed for tests and for people reading the console; nothing in it is secret.
  window.AutowalletMiniApp = {
    launch: launch,
    parseHash: parseHash,
    parseInitData: parseInitData,
    apiBase: apiBase,
    relativeText: relativeText,
    close: closeApp,
    // The sentences shown after Approve (a copy), for the tests that check
    // that none says "Nothing was sent".
    afterApprove: function () {
      var out = { unknown: UNKNOWN_ANSWER, expired: EXPIRED_AFTER_APPROVE, cancelled: CANCELLED_AFTER_APPROVE };
      for (var k in MESSAGES) {
        out["code " + k] = MESSAGES[k];
      }
      for (var c in CLOSED) {
        out["status " + c] = CLOSED[c];
      }
      return out;
    },
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
