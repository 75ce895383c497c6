// wallet.js: checks that an address is the user's own wallet without trusting
// the host (docs/miniapp.md, "Your wallet, checked by the page").
//
// The enclave's deployment identity key (Ed25519) signs the statement
// "address A belongs to Telegram user U". The page verifies such a proof with
// the identity key pinned in its own config.json (published with the page,
// never taken from the host's API), for U = the user id in the page's own
// launch data (from Telegram). It defines one global, AutowalletWallet.
(function (root) {
  "use strict";

  var AI = root.AutowalletIntent;
  var CONTEXT = "autowallet wallet statement v1"; // 30 bytes, then 0x00
  var MESSAGE_LENGTH = 59; // context, 0x00, owner (8 bytes), address (20 bytes)
  var MAX_OWNER = (1n << 63n) - 1n;
  var MAX_CONFIG_BYTES = 1024;

  // Reasons a wallet is not shown as the user's (the page words them).
  var NO_USER = "no_user"; // no readable user id in the launch data
  var WRONG_USER = "wrong_user"; // the statement is for another Telegram user
  var NO_CONFIG = "no_config"; // config.json missing or unreachable
  var BAD_CONFIG = "bad_config"; // config.json not exactly as specified
  var NO_WEBCRYPTO = "no_webcrypto"; // the device cannot verify Ed25519
  var BAD_PROOF = "bad_proof"; // the proof does not verify

  function Refusal(reason, message) {
    this.reason = reason;
    this.message = message;
  }

  function refuse(reason, message) {
    throw new Refusal(reason, message);
  }

  // members returns the top-level members of a JSON object text, in order,
  // as {key, raw} with raw the value's text. The text must already have been
  // accepted by JSON.parse as an object: JSON.parse keeps the last of two
  // equal keys silently, so callers use this to refuse duplicates and to read
  // numbers exactly (a Telegram user id can exceed 2^53).
  function members(text) {
    var out = [];
    var depth = 0;
    var expect = "";
    var key = "";
    var start = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === '"') {
        var j = i + 1;
        while (j < text.length && text.charAt(j) !== '"') {
          j += text.charAt(j) === "\\" ? 2 : 1;
        }
        if (depth === 1 && expect === "key") {
          key = JSON.parse(text.substring(i, j + 1));
          expect = "colon";
        }
        i = j;
      } else if (c === "{" || c === "[") {
        depth++;
        if (depth === 1) {
          expect = "key";
        }
      } else if (c === "}" || c === "]") {
        if (depth === 1 && expect === "value") {
          out.push({ key: key, raw: text.substring(start, i).trim() });
        }
        depth--;
      } else if (depth === 1 && c === ":" && expect === "colon") {
        expect = "value";
        start = i + 1;
      } else if (depth === 1 && c === "," && expect === "value") {
        out.push({ key: key, raw: text.substring(start, i).trim() });
        expect = "key";
      }
    }
    return out;
  }

  // objectMembers parses text as one JSON object with no key twice and
  // returns its members by key, or null.
  function objectMembers(text) {
    var v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return null;
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return null;
    }
    var list = members(text.trim());
    var out = Object.create(null);
    for (var i = 0; i < list.length; i++) {
      if (list[i].key in out) {
        return null;
      }
      out[list[i].key] = list[i].raw;
    }
    return out;
  }

  // launchUserId returns the Telegram user id (a BigInt) in the page's own
  // launch data (initData's `user` field, parsed by app.js), or null. Only a
  // plain positive integer up to 2^63-1 is a user id.
  function launchUserId(initFields) {
    if (!initFields || typeof initFields.user !== "string") {
      return null;
    }
    var m = objectMembers(initFields.user);
    if (!m || typeof m.id !== "string" || !/^[1-9][0-9]{0,18}$/.test(m.id)) {
      return null;
    }
    var id = BigInt(m.id);
    return id <= MAX_OWNER ? id : null;
  }

  // parseConfig reads config.json strictly: exactly {"version": 1,
  // "identity_key": "<64 lowercase hex>"}, no other field, no key twice.
  function parseConfig(text) {
    if (typeof text !== "string" || text.length > MAX_CONFIG_BYTES) {
      refuse(BAD_CONFIG, "config.json is too large");
    }
    var m = objectMembers(text);
    if (!m) {
      refuse(BAD_CONFIG, "config.json is not one JSON object");
    }
    var keys = Object.keys(m).sort();
    if (keys.length !== 2 || keys[0] !== "identity_key" || keys[1] !== "version") {
      refuse(BAD_CONFIG, "config.json must hold exactly version and identity_key");
    }
    if (m.version !== "1") {
      refuse(BAD_CONFIG, "config.json has version " + m.version + ", want 1");
    }
    if (!/^"[0-9a-f]{64}"$/.test(m.identity_key)) {
      refuse(BAD_CONFIG, "config.json identity_key is not 64 lowercase hex digits");
    }
    var hex = m.identity_key.slice(1, -1);
    var key = new Uint8Array(32);
    for (var i = 0; i < 32; i++) {
      key[i] = parseInt(hex.substr(2 * i, 2), 16);
    }
    return { identityKey: key };
  }

  var configPromise = null;

  // loadConfig fetches config.json once, relative to the page's own URL
  // (never from the ?api= origin: the API is the host's), without cookies,
  // referrer or anything of the launch data, and never from a cache.
  function loadConfig() {
    if (!configPromise) {
      configPromise = Promise.resolve()
        .then(function () {
          var url = new URL("config.json", document.baseURI);
          url.search = "";
          url.hash = "";
          return fetch(url.href, {
            method: "GET",
            credentials: "omit",
            cache: "no-store",
            redirect: "error",
            referrerPolicy: "no-referrer",
          });
        })
        .then(
          function (resp) {
            if (!resp.ok) {
              refuse(NO_CONFIG, "config.json answered HTTP " + resp.status);
            }
            return resp.text();
          },
          function () {
            refuse(NO_CONFIG, "config.json could not be fetched");
          },
        )
        .then(parseConfig);
    }
    return configPromise;
  }

  // statementMessage is the 59-byte message the identity key signs:
  // "autowallet wallet statement v1" || 0x00 || owner (8 bytes, big-endian)
  // || address (20 bytes).
  function statementMessage(owner, addressBytes) {
    var m = new Uint8Array(MESSAGE_LENGTH);
    m.set(AI.utf8(CONTEXT));
    var o = owner;
    for (var i = 38; i >= 31; i--) {
      m[i] = Number(o & 0xffn);
      o >>= 8n;
    }
    m.set(addressBytes, 39);
    return m;
  }

  // importKey makes a WebCrypto Ed25519 key; a device without it (an old
  // browser, or a page not in a secure context) gets NO_WEBCRYPTO.
  function importKey(raw) {
    return Promise.resolve()
      .then(function () {
        return root.crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
      })
      .catch(function () {
        refuse(NO_WEBCRYPTO, "this device cannot verify Ed25519 signatures");
      });
  }

  // check resolves to {ok: true} when proof is the identity key's signature
  // over (launch user id, address), and statedOwner (the owner a receive link
  // names, or null) is that same user; otherwise to {ok: false, reason,
  // message}. It never rejects.
  function check(initFields, statedOwner, addressBytes, proof) {
    return Promise.resolve()
      .then(function () {
        var user = launchUserId(initFields);
        if (user === null) {
          refuse(NO_USER, "the launch data names no Telegram user");
        }
        if (statedOwner !== null && statedOwner !== user) {
          refuse(WRONG_USER, "the statement is for another Telegram user");
        }
        return loadConfig().then(function (cfg) {
          return importKey(cfg.identityKey).then(function (key) {
            var msg = statementMessage(user, addressBytes);
            return root.crypto.subtle.verify({ name: "Ed25519" }, key, proof, msg).catch(function () {
              return false;
            });
          });
        });
      })
      .then(function (valid) {
        return valid ? { ok: true } : { ok: false, reason: BAD_PROOF, message: "the proof does not verify" };
      })
      .catch(function (e) {
        if (e instanceof Refusal) {
          return { ok: false, reason: e.reason, message: e.message };
        }
        return { ok: false, reason: BAD_PROOF, message: "the check failed" };
      });
  }

  root.AutowalletWallet = {
    NO_USER: NO_USER,
    WRONG_USER: WRONG_USER,
    NO_CONFIG: NO_CONFIG,
    BAD_CONFIG: BAD_CONFIG,
    NO_WEBCRYPTO: NO_WEBCRYPTO,
    BAD_PROOF: BAD_PROOF,
    members: members,
    launchUserId: launchUserId,
    parseConfig: parseConfig,
    loadConfig: loadConfig,
    statementMessage: statementMessage,
    check: check,
  };
})(typeof window !== "undefined" ? window : this);
