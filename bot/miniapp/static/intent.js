// intent.js: the start_param codec of docs/protocol.md section 1 (transfer
// intents, version 2 with the wallet proof, and receive links, kind 2), in
// plain JavaScript (no build step, no dependency), plus keccak-256 for EIP-55
// checksummed addresses and decimal formatting of amounts (exact, or by the
// rounding rule the bot shares).
//
// It defines one global, AutowalletIntent. Every function is pure: the page
// (app.js) and the tests call them.
(function (root) {
  "use strict";

  var MAX_START_PARAM = 512;
  var KIND_TRANSFER = 0x01;
  var KIND_WALLET = 0x02;
  // Transfer version 1 (no wallet proof) is refused: since version 2 every
  // intent carries the enclave's proof that `from` is the owner's wallet.
  var TRANSFER_V2 = 0x02;
  var WALLET_LINK_V1 = 0x01;
  var ADDRESS_LENGTH = 20;
  var PROOF_LENGTH = 64; // one Ed25519 signature
  var MAX_UINT64_BYTES = 8;
  var MAX_UINT256_BYTES = 32;
  // 72..197 bytes of fields (every number empty but chain id, gas limit and
  // expiry, which are not 0 .. every number at its longest) plus the 64-byte
  // wallet proof: 136..261, as protocol/intent.go.
  var MIN_LEN = 2 + 3 * ADDRESS_LENGTH + 7 + 3 + PROOF_LENGTH;
  var MAX_LEN = 2 + 3 * ADDRESS_LENGTH + 4 * (1 + MAX_UINT64_BYTES) + 3 * (1 + MAX_UINT256_BYTES) + PROOF_LENGTH;
  // A receive link: kind, version, owner (8 bytes), address, proof = 94.
  var WALLET_LINK_LEN = 2 + 8 + ADDRESS_LENGTH + PROOF_LENGTH;
  var MAX_OWNER = (1n << 63n) - 1n;

  // IntentError is every refusal to decode: its code is always
  // "malformed_intent", as in the protocol; its message says why.
  function IntentError(message) {
    this.name = "IntentError";
    this.code = "malformed_intent";
    this.message = message;
  }
  IntentError.prototype = Object.create(Error.prototype);
  IntentError.prototype.constructor = IntentError;

  function fail(message) {
    throw new IntentError(message);
  }

  // ---- base64url, strict: no padding, A-Za-z0-9_- only, zero unused bits.

  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var DECODE = {};
  for (var ai = 0; ai < ALPHABET.length; ai++) {
    DECODE[ALPHABET.charAt(ai)] = ai;
  }

  function base64urlDecode(s) {
    if (s.length % 4 === 1) {
      fail("start_param has an impossible base64 length");
    }
    var out = new Uint8Array(Math.floor((s.length * 6) / 8));
    var acc = 0;
    var bits = 0;
    var o = 0;
    for (var i = 0; i < s.length; i++) {
      var v = DECODE[s.charAt(i)];
      if (v === undefined) {
        fail("start_param has a character outside A-Za-z0-9_-");
      }
      acc = ((acc << 6) | v) & 0xfff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >> bits) & 0xff;
      }
    }
    // The bits left over (2 or 4) must be zero: otherwise two texts would
    // spell the same bytes.
    if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) {
      fail("start_param has non-zero unused bits in its last character");
    }
    return out;
  }

  function base64urlEncode(bytes) {
    var s = "";
    var acc = 0;
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      acc = ((acc << 8) | bytes[i]) & 0xffff;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        s += ALPHABET.charAt((acc >> bits) & 63);
      }
    }
    if (bits > 0) {
      s += ALPHABET.charAt((acc << (6 - bits)) & 63);
    }
    return s;
  }

  // ---- binary reader

  function Reader(bytes) {
    this.b = bytes;
    this.p = 0;
  }
  Reader.prototype.take = function (n, field) {
    if (this.b.length - this.p < n) {
      fail("truncated at " + field);
    }
    var v = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  };
  Reader.prototype.address = function (field) {
    return new Uint8Array(this.take(ADDRESS_LENGTH, field));
  };
  Reader.prototype.uint = function (field, max) {
    var n = this.take(1, field)[0];
    if (n > max) {
      fail(field + " is " + n + " bytes, at most " + max + " allowed");
    }
    var v = this.take(n, field);
    if (n > 0 && v[0] === 0) {
      fail(field + " has a leading zero byte (non-canonical)");
    }
    var x = 0n;
    for (var i = 0; i < v.length; i++) {
      x = (x << 8n) | BigInt(v[i]);
    }
    return x;
  };

  function isZero(bytes) {
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0) {
        return false;
      }
    }
    return true;
  }

  // decodeBytes decodes a v2 transfer intent from its binary form: the v1
  // fields, then exactly 64 bytes of wallet proof.
  function decodeBytes(b) {
    if (b.length < 2) {
      fail("too short");
    }
    if (b[0] !== KIND_TRANSFER) {
      fail("unknown intent kind " + b[0]);
    }
    if (b[1] !== TRANSFER_V2) {
      fail("unknown transfer version " + b[1]);
    }
    if (b.length < MIN_LEN || b.length > MAX_LEN) {
      fail("length " + b.length + " is outside " + MIN_LEN + ".." + MAX_LEN);
    }
    var r = new Reader(b);
    r.p = 2;
    var it = {};
    it.chainId = r.uint("chain id", MAX_UINT64_BYTES);
    it.fromBytes = r.address("from");
    it.toBytes = r.address("to");
    it.tokenBytes = r.address("token");
    it.amount = r.uint("amount", MAX_UINT256_BYTES);
    it.nonce = r.uint("nonce", MAX_UINT64_BYTES);
    it.gasLimit = r.uint("gas limit", MAX_UINT64_BYTES);
    it.maxFeePerGas = r.uint("max fee per gas", MAX_UINT256_BYTES);
    it.maxPriorityFeePerGas = r.uint("max priority fee per gas", MAX_UINT256_BYTES);
    it.expiry = r.uint("expiry", MAX_UINT64_BYTES);
    // The fields must end exactly 64 bytes before the end: the proof.
    if (b.length - r.p < PROOF_LENGTH) {
      fail("truncated at wallet proof");
    }
    it.walletProof = new Uint8Array(r.take(PROOF_LENGTH, "wallet proof"));
    if (r.p !== b.length) {
      fail(b.length - r.p + " trailing bytes");
    }
    if (it.chainId === 0n) {
      fail("chain id is zero");
    }
    if (isZero(it.toBytes)) {
      fail("recipient is the zero address");
    }
    if (isZero(it.fromBytes)) {
      fail("sender is the zero address");
    }
    if (it.gasLimit === 0n) {
      fail("gas limit is zero");
    }
    if (it.maxPriorityFeePerGas > it.maxFeePerGas) {
      fail("max priority fee is above max fee");
    }
    if (it.expiry === 0n) {
      fail("expiry is zero");
    }
    it.from = toChecksumAddress(it.fromBytes);
    it.to = toChecksumAddress(it.toBytes);
    it.token = toChecksumAddress(it.tokenBytes);
    it.isNative = isZero(it.tokenBytes);
    it.maxFee = it.gasLimit * it.maxFeePerGas; // the most gas can cost
    it.maxCost = it.amount + it.maxFee; // the most the transfer can take
    return it;
  }

  // decodeWalletLinkBytes decodes a receive link (kind 0x02, version 0x01):
  // exactly 94 bytes, owner 1..2^63-1, a non-zero address. It does not check
  // the proof (wallet.js does, with the pinned identity key).
  function decodeWalletLinkBytes(b) {
    if (b.length < 2) {
      fail("too short");
    }
    if (b[0] !== KIND_WALLET) {
      fail("kind " + b[0] + " is not a wallet link");
    }
    if (b[1] !== WALLET_LINK_V1) {
      fail("unknown wallet link version " + b[1]);
    }
    if (b.length !== WALLET_LINK_LEN) {
      fail("wallet link is " + b.length + " bytes, want " + WALLET_LINK_LEN);
    }
    var owner = 0n;
    for (var i = 2; i < 10; i++) {
      owner = (owner << 8n) | BigInt(b[i]);
    }
    if (owner === 0n || owner > MAX_OWNER) {
      fail("wallet link owner is out of range");
    }
    var addr = new Uint8Array(b.subarray(10, 10 + ADDRESS_LENGTH));
    if (isZero(addr)) {
      fail("wallet link address is the zero address");
    }
    return {
      owner: owner,
      addressBytes: addr,
      address: toChecksumAddress(addr),
      proof: new Uint8Array(b.subarray(10 + ADDRESS_LENGTH)),
    };
  }

  // startParamBytes reads the text of any start_param kind strictly
  // (docs/protocol.md 1.3): not empty, at most 512 characters, canonical
  // base64url without padding.
  function startParamBytes(s) {
    if (typeof s !== "string" || s.length === 0) {
      fail("start_param is empty");
    }
    if (s.length > MAX_START_PARAM) {
      fail("start_param is " + s.length + " characters, at most " + MAX_START_PARAM + " allowed");
    }
    if (!/^[A-Za-z0-9_-]+$/.test(s)) {
      fail("start_param has a character outside A-Za-z0-9_-");
    }
    return base64urlDecode(s);
  }

  // decodeStartParam decodes a transfer intent from its text form (a Mini
  // App start_param) strictly. It throws an IntentError; a receive link is
  // not a transfer and is refused too.
  function decodeStartParam(s) {
    return decodeBytes(startParamBytes(s));
  }

  // decodeWalletLink decodes a receive link from its text form strictly. It
  // throws an IntentError.
  function decodeWalletLink(s) {
    return decodeWalletLinkBytes(startParamBytes(s));
  }

  // startParamKind returns the kind byte of a start_param that is readable
  // base64url (1 transfer, 2 receive link, anything else unknown), or 0 if
  // the text is not. It says which decoder applies, nothing more.
  function startParamKind(s) {
    try {
      var b = startParamBytes(s);
      return b.length > 0 ? b[0] : 0;
    } catch (e) {
      return 0;
    }
  }

  // ---- keccak-256 (the original Keccak padding, as Ethereum uses it).
  // The 25 64-bit lanes are kept as pairs of 32-bit halves: hi at 2i+1, lo at 2i.

  var RC = [
    0x00000001, 0x00000000, 0x00008082, 0x00000000, 0x0000808a, 0x80000000, 0x80008000, 0x80000000,
    0x0000808b, 0x00000000, 0x80000001, 0x00000000, 0x80008081, 0x80000000, 0x00008009, 0x80000000,
    0x0000008a, 0x00000000, 0x00000088, 0x00000000, 0x80008009, 0x00000000, 0x8000000a, 0x00000000,
    0x8000808b, 0x00000000, 0x0000008b, 0x80000000, 0x00008089, 0x80000000, 0x00008003, 0x80000000,
    0x00008002, 0x80000000, 0x00000080, 0x80000000, 0x0000800a, 0x00000000, 0x8000000a, 0x80000000,
    0x80008081, 0x80000000, 0x00008080, 0x80000000, 0x80000001, 0x00000000, 0x80008008, 0x80000000,
  ];
  // Rotation offsets by lane index x + 5y.
  var ROT = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];

  function keccakF(s) {
    var c = new Uint32Array(10);
    var bc = new Uint32Array(50);
    for (var round = 0; round < 24; round++) {
      var x, y, i, lo, hi;
      // theta
      for (x = 0; x < 5; x++) {
        c[2 * x] = s[2 * x] ^ s[2 * x + 10] ^ s[2 * x + 20] ^ s[2 * x + 30] ^ s[2 * x + 40];
        c[2 * x + 1] = s[2 * x + 1] ^ s[2 * x + 11] ^ s[2 * x + 21] ^ s[2 * x + 31] ^ s[2 * x + 41];
      }
      for (x = 0; x < 5; x++) {
        var n = (x + 1) % 5;
        var p = (x + 4) % 5;
        // D[x] = C[x-1] ^ rotl(C[x+1], 1)
        lo = c[2 * p] ^ ((c[2 * n] << 1) | (c[2 * n + 1] >>> 31));
        hi = c[2 * p + 1] ^ ((c[2 * n + 1] << 1) | (c[2 * n] >>> 31));
        for (y = 0; y < 25; y += 5) {
          s[2 * (x + y)] ^= lo;
          s[2 * (x + y) + 1] ^= hi;
        }
      }
      // rho and pi: B[y, 2x+3y] = rotl(A[x, y], ROT[x, y])
      for (x = 0; x < 5; x++) {
        for (y = 0; y < 5; y++) {
          i = x + 5 * y;
          var r = ROT[i];
          var l = s[2 * i];
          var h = s[2 * i + 1];
          if (r >= 32) {
            var t = l;
            l = h;
            h = t;
            r -= 32;
          }
          if (r > 0) {
            lo = (l << r) | (h >>> (32 - r));
            hi = (h << r) | (l >>> (32 - r));
          } else {
            lo = l;
            hi = h;
          }
          var j = y + 5 * ((2 * x + 3 * y) % 5);
          bc[2 * j] = lo;
          bc[2 * j + 1] = hi;
        }
      }
      // chi
      for (y = 0; y < 25; y += 5) {
        for (x = 0; x < 5; x++) {
          var a = 2 * (y + x);
          var b1 = 2 * (y + ((x + 1) % 5));
          var b2 = 2 * (y + ((x + 2) % 5));
          s[a] = bc[a] ^ (~bc[b1] & bc[b2]);
          s[a + 1] = bc[a + 1] ^ (~bc[b1 + 1] & bc[b2 + 1]);
        }
      }
      // iota
      s[0] ^= RC[2 * round];
      s[1] ^= RC[2 * round + 1];
    }
  }

  // keccak256 returns the 32-byte Keccak-256 digest of a Uint8Array.
  function keccak256(data) {
    var rate = 136;
    var padded = new Uint8Array((Math.floor(data.length / rate) + 1) * rate);
    padded.set(data);
    padded[data.length] ^= 0x01;
    padded[padded.length - 1] ^= 0x80;
    var s = new Uint32Array(50);
    for (var off = 0; off < padded.length; off += rate) {
      for (var k = 0; k < rate / 4; k++) {
        var q = off + 4 * k;
        s[k] ^= padded[q] | (padded[q + 1] << 8) | (padded[q + 2] << 16) | (padded[q + 3] << 24);
      }
      keccakF(s);
    }
    var out = new Uint8Array(32);
    for (var m = 0; m < 8; m++) {
      var w = s[m];
      out[4 * m] = w & 0xff;
      out[4 * m + 1] = (w >>> 8) & 0xff;
      out[4 * m + 2] = (w >>> 16) & 0xff;
      out[4 * m + 3] = (w >>> 24) & 0xff;
    }
    return out;
  }

  function utf8(s) {
    return new TextEncoder().encode(s);
  }

  function toHex(bytes) {
    var h = "";
    for (var i = 0; i < bytes.length; i++) {
      h += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return h;
  }

  // toChecksumAddress returns the EIP-55 form of a 20-byte address, given as
  // bytes or as 40 hex digits with or without 0x.
  function toChecksumAddress(addr) {
    var hex;
    if (typeof addr === "string") {
      hex = addr.replace(/^0x/i, "");
      if (!/^[0-9a-fA-F]{40}$/.test(hex)) {
        throw new Error("not an address: " + addr);
      }
      hex = hex.toLowerCase();
    } else {
      if (addr.length !== ADDRESS_LENGTH) {
        throw new Error("not an address");
      }
      hex = toHex(addr);
    }
    var hash = keccak256(utf8(hex));
    var out = "0x";
    for (var i = 0; i < 40; i++) {
      var ch = hex.charAt(i);
      var nibble = (hash[i >> 1] >> (i % 2 === 0 ? 4 : 0)) & 0x0f;
      out += nibble >= 8 ? ch.toUpperCase() : ch;
    }
    return out;
  }

  // ---- exact decimal formatting

  // formatUnits writes v / 10^decimals exactly, without trailing zeros.
  function formatUnits(v, decimals) {
    var neg = v < 0n;
    if (neg) {
      v = -v;
    }
    var base = 10n ** BigInt(decimals);
    var whole = (v / base).toString();
    var frac = (v % base).toString();
    while (frac.length < decimals) {
      frac = "0" + frac;
    }
    frac = frac.replace(/0+$/, "");
    return (neg ? "-" : "") + whole + (frac.length ? "." + frac : "");
  }

  function formatEther(wei) {
    return formatUnits(wei, 18);
  }

  // formatAmount writes v (in the smallest unit of a coin or token with
  // `decimals` decimals) by the one rule the page and the bot share
  // (docs/miniapp.md, "Amounts: one rounding rule"; Go:
  // networks.FormatAmount). mode "exact" shows every digit (the amount of a
  // transfer: what is signed). Otherwise, with e the power of ten of v's first
  // non-zero digit in whole units, k = min(decimals, max(6, 3 - e)) decimal
  // places are kept (six, or four significant digits for a small value),
  // and the rest is rounded "up" (a maximum is never shown below what it can
  // be) or "down" (a balance never above what is held). Trailing zeros are
  // trimmed.
  function formatAmount(v, decimals, mode) {
    if (v < 0n) {
      return "-" + formatAmount(-v, decimals, mode);
    }
    if (v === 0n) {
      return "0";
    }
    var k = decimals;
    if (mode !== "exact") {
      var e = v.toString().length - 1 - decimals;
      k = Math.min(decimals, Math.max(6, 3 - e));
    }
    var unit = 10n ** BigInt(decimals - k);
    var q = v / unit;
    if (mode === "up" && v % unit !== 0n) {
      q += 1n;
    }
    return formatUnits(q, k);
  }

  // fields returns a decoded intent in the shape of testdata/intents/*.json:
  // numbers in decimal, addresses in EIP-55.
  function fields(it) {
    return {
      chain_id: it.chainId.toString(),
      from: it.from,
      to: it.to,
      token: it.token,
      amount: it.amount.toString(),
      nonce: it.nonce.toString(),
      gas_limit: it.gasLimit.toString(),
      max_fee_per_gas: it.maxFeePerGas.toString(),
      max_priority_fee_per_gas: it.maxPriorityFeePerGas.toString(),
      expiry: it.expiry.toString(),
      wallet_proof: toHex(it.walletProof),
    };
  }

  // linkFields returns a decoded receive link with its owner in decimal, its
  // address in EIP-55 and its proof in hex.
  function linkFields(l) {
    return { owner: l.owner.toString(), address: l.address, proof: toHex(l.proof) };
  }

  root.AutowalletIntent = {
    MAX_START_PARAM: MAX_START_PARAM,
    IntentError: IntentError,
    KIND_TRANSFER: KIND_TRANSFER,
    KIND_WALLET: KIND_WALLET,
    decodeStartParam: decodeStartParam,
    decodeBytes: decodeBytes,
    decodeWalletLink: decodeWalletLink,
    decodeWalletLinkBytes: decodeWalletLinkBytes,
    startParamKind: startParamKind,
    linkFields: linkFields,
    base64urlDecode: base64urlDecode,
    base64urlEncode: base64urlEncode,
    keccak256: keccak256,
    toHex: toHex,
    utf8: utf8,
    toChecksumAddress: toChecksumAddress,
    formatUnits: formatUnits,
    formatEther: formatEther,
    formatAmount: formatAmount,
    fields: fields,
  };
})(typeof window !== "undefined" ? window : this);
