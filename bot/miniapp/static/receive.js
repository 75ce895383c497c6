// receive.js: the views that show the user's own wallet address, and only
// after wallet.js verified the enclave's proof that it is theirs:
// - the Receive view, for a receive link (start_param kind 0x02): the
//   address, its QR code and "Verified by the wallet's enclave", or a warning
//   and no address at all;
// - the approval view's "From" row: "Your wallet" and the address, or a
//   warning (app.js then keeps Approve disabled).
// Neither makes any request to the host: the only fetch is config.json, from
// the page's own origin (wallet.js). It defines one global, AutowalletReceive.
(function (root) {
  "use strict";

  var AI = root.AutowalletIntent;
  var AW = root.AutowalletWallet;

  var VERIFIED = "Verified by the wallet's enclave";
  var NOT_YOURS = "This address could not be verified as yours. Do not send funds to it.";
  var FROM_NOT_YOURS = "This transfer is not from a wallet verified as yours. Do not approve it.";
  // Why, in the page's own words (never text from the host).
  var WHY = {};
  WHY[AW.NO_USER] = "Telegram's launch data names no user, so there is nobody to check it for.";
  WHY[AW.WRONG_USER] = "The wallet named by this link belongs to another Telegram account.";
  WHY[AW.NO_CONFIG] = "The page's published key could not be loaded.";
  WHY[AW.BAD_CONFIG] = "The page's published key is not valid.";
  WHY[AW.NO_WEBCRYPTO] = "The wallet could not be checked on this device: it cannot verify the enclave's signature (Ed25519). Update Telegram or the system browser.";
  WHY[AW.BAD_PROOF] = "The enclave's signature does not match this wallet and your Telegram account.";
  WHY[AW.BAD_LAUNCH] = "Telegram's signature on this page's launch data could not be verified. Open the wallet again from the bot's chat.";
  WHY[AW.STALE_LAUNCH] = "Telegram's launch data for this page is more than 24 hours old (or this device's clock is wrong). Open the wallet again from the bot's chat.";

  // owner names the account Telegram signed the launch for, as
  // "Ada (@ada)" or "Ada": the user's own name if this is their launch, the
  // host's if a host replays a launch Telegram signed for the host's own
  // account (docs/miniapp.md). Set with textContent only.
  function ownerName(user, withParens) {
    var name = user.firstName || "this Telegram account";
    if (!user.username) {
      return name;
    }
    return withParens ? name + " (@" + user.username + ")" : name + " @" + user.username;
  }

  // QR code: byte mode, error correction level M, 4 modules of quiet zone,
  // each module SCALE pixels, dark on white whatever the theme.
  var QR_LEVEL = "M";
  var QUIET = 4;
  var SCALE = 8;

  function $(id) {
    return document.getElementById(id);
  }

  // showAddress writes the full address with its first 6 and last 4
  // characters marked (as app.js does); the text stays exactly the address.
  function showAddress(el, addr) {
    el.textContent = "";
    var head = document.createElement("span");
    head.className = "addr-edge";
    head.textContent = addr.substr(0, 6);
    var tail = document.createElement("span");
    tail.className = "addr-edge";
    tail.textContent = addr.substr(addr.length - 4);
    el.appendChild(head);
    el.appendChild(document.createTextNode(addr.substr(6, addr.length - 10)));
    el.appendChild(tail);
  }

  // qrMatrix encodes text and returns its modules as rows of booleans
  // (true = dark), or null if the encoder is missing or fails.
  function qrMatrix(text) {
    if (typeof root.qrcode !== "function") {
      return null;
    }
    try {
      var qr = root.qrcode(0, QR_LEVEL);
      qr.addData(text, "Byte");
      qr.make();
      var n = qr.getModuleCount();
      var rows = [];
      for (var r = 0; r < n; r++) {
        var row = [];
        for (var c = 0; c < n; c++) {
          row.push(qr.isDark(r, c));
        }
        rows.push(row);
      }
      return rows;
    } catch (e) {
      return null;
    }
  }

  // drawQR draws the matrix on the canvas, quiet zone included.
  function drawQR(canvas, rows) {
    var n = rows.length;
    var size = (n + 2 * QUIET) * SCALE;
    canvas.width = size;
    canvas.height = size;
    var g = canvas.getContext("2d");
    g.fillStyle = "#ffffff";
    g.fillRect(0, 0, size, size);
    g.fillStyle = "#000000";
    for (var r = 0; r < n; r++) {
      for (var c = 0; c < n; c++) {
        if (rows[r][c]) {
          g.fillRect((c + QUIET) * SCALE, (r + QUIET) * SCALE, SCALE, SCALE);
        }
      }
    }
  }

  // startReceive shows the Receive view for the receive link sp. ctx gives
  // initFields (app.js's parse of initData) and close().
  function startReceive(ctx) {
    document.title = "Your wallet address";
    $("title").textContent = "Receive";
    var lead = document.querySelector(".lead");
    if (lead) {
      lead.textContent = "Your wallet's address, checked by this page against the wallet's enclave.";
    }
    // Nothing in this view approves anything: the transfer view and its
    // buttons go.
    $("details").hidden = true;
    var actions = document.querySelector("main > .actions");
    if (actions) {
      actions.remove();
    }
    var hint = $("cancel-hint");
    if (hint) {
      hint.remove();
    }
    var view = $("receive");
    view.hidden = false;
    $("receive-close").addEventListener("click", function () {
      ctx.close();
    });

    var link;
    try {
      link = AI.decodeWalletLink(ctx.startParam);
    } catch (e) {
      return Promise.resolve(refuseReceive("This receive link cannot be read."));
    }
    setCheck("Checking…", "pending");
    return AW.check(ctx.initFields, link.owner, link.addressBytes, link.proof).then(function (res) {
      if (!res.ok) {
        return refuseReceive(WHY[res.reason] || WHY[AW.BAD_PROOF]);
      }
      // QR content: the bare EIP-55 address (docs/miniapp.md says why).
      var rows = qrMatrix(link.address);
      showAddress($("receive-address"), link.address);
      $("receive-address").hidden = false;
      if (rows) {
        drawQR($("receive-qr"), rows);
        $("receive-qr").hidden = false;
      }
      setCheck(VERIFIED + ": the wallet of " + ownerName(res.user, true), "verified");
      $("receive-copy").hidden = false;
      $("receive-copy").addEventListener("click", function () {
        copy(link.address);
      });
      document.body.setAttribute("data-state", "verified");
      return true;
    });
  }

  function setCheck(text, kind) {
    var el = $("receive-check");
    el.textContent = text;
    el.className = "check " + kind;
  }

  // refuseReceive shows the warning and no address: nothing of the link's
  // address reaches the page.
  function refuseReceive(why) {
    setCheck("Not verified", "unverified");
    var err = $("error");
    err.textContent = NOT_YOURS + " " + why;
    err.hidden = false;
    document.body.setAttribute("data-state", "unverified");
    return false;
  }

  function copy(text) {
    var done = function () {
      $("receive-copy").textContent = "Copied";
    };
    try {
      navigator.clipboard.writeText(text).then(done, function () {});
    } catch (e) {}
  }

  // checkFrom fills the approval view's "From" row: "Your wallet" and the
  // address when the intent's wallet proof verifies for (launch user id,
  // from); otherwise a warning and no address. It resolves to whether it
  // verified, and app.js enables Approve only then.
  function checkFrom(it, initFields) {
    var from = $("from");
    var note = $("from-check");
    from.textContent = "Checking…";
    note.textContent = "";
    return AW.check(initFields, null, it.fromBytes, it.walletProof).then(function (res) {
      if (res.ok) {
        showAddress(from, it.from);
        note.textContent = "Your wallet (" + ownerName(res.user, false) + ") · " + VERIFIED;
        note.className = "check verified";
        selfNote(it);
        return true;
      }
      from.textContent = "Not verified";
      note.textContent = FROM_NOT_YOURS + " " + (WHY[res.reason] || WHY[AW.BAD_PROOF]);
      note.className = "check unverified";
      return false;
    });
  }

  // selfNote says, from the intent alone, what a transfer to the user's own
  // (verified) wallet does: with amount 0 it moves nothing and only takes
  // the nonce of a pending transfer, which is how Replace cancels one.
  function selfNote(it) {
    var p = $("self-note");
    if (!p || it.to.toLowerCase() !== it.from.toLowerCase()) {
      return;
    }
    p.textContent = it.amount === BigInt(0)
      ? "This sends nothing: 0 to your own wallet. It replaces a transfer of yours that the network has not included yet (the one with the same nonce), which is how that transfer is cancelled. You pay only the network fee."
      : "The recipient is your own wallet.";
    p.hidden = false;
  }

  root.AutowalletReceive = {
    start: startReceive,
    checkFrom: checkFrom,
    qrMatrix: qrMatrix,
  };
})(typeof window !== "undefined" ? window : this);
