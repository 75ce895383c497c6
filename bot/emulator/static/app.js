// The emulator's chat page: plain JS, no dependencies. Everything the bot
// sent is put into the DOM with textContent/createElement, never innerHTML.
(() => {
  'use strict';
  const $ = (s) => document.querySelector(s);
  const THEME = {
    bg_color: '#ffffff', text_color: '#000000', hint_color: '#707579', link_color: '#3390ec',
    button_color: '#3390ec', button_text_color: '#ffffff', secondary_bg_color: '#f4f4f5',
    header_bg_color: '#ffffff', accent_text_color: '#3390ec', section_bg_color: '#ffffff',
    section_header_text_color: '#3390ec', subtitle_text_color: '#707579', destructive_text_color: '#e53935',
  };
  let userId = null;
  let version = null;
  let commands = [];
  let poll = null; // AbortController of the running long-poll
  const sigs = new Map(); // message id -> rendered JSON, to re-render only changes

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function api(path, body, signal) {
    const opts = body === undefined ? { signal } : {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal,
    };
    const r = await fetch('/emu/api/' + path, opts);
    const j = await r.json().catch(() => ({ error: 'HTTP ' + r.status }));
    if (!r.ok) throw new Error(j.error || 'HTTP ' + r.status);
    return j;
  }

  // ---- toast
  let toastTimer = null;
  function toast(text, alert) {
    const t = $('#toast');
    t.textContent = text;
    t.classList.toggle('alert', !!alert);
    t.dataset.visible = 'true';
    clearTimeout(toastTimer);
    if (!alert) toastTimer = setTimeout(() => { t.dataset.visible = 'false'; }, 3000);
  }
  $('#toast').addEventListener('click', () => { $('#toast').dataset.visible = 'false'; });

  // ---- users
  async function chooseUser(id) {
    userId = id;
    version = null;
    sigs.clear();
    $('#messages').replaceChildren();
    const sel = $('#user-select');
    sel.value = String(id);
    const opt = sel.selectedOptions[0];
    if (opt && opt.dataset.username) {
      const q = new URLSearchParams(location.search);
      q.set('user', opt.dataset.username);
      history.replaceState(null, '', '?' + q.toString());
    }
    if (poll) poll.abort();
  }

  $('#user-select').addEventListener('change', (ev) => chooseUser(Number(ev.target.value)));
  $('#new-user-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = $('#new-user-name').value.trim();
    if (!name) return;
    const username = name.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 32);
    try {
      const u = await api('users', { username, first_name: name });
      $('#new-user-name').value = '';
      await refreshOnce();
      chooseUser(u.id);
    } catch (e) { toast(e.message); }
  });

  function renderUsers(users) {
    const sel = $('#user-select');
    const want = users.map((u) => u.id + ':' + u.first_name + ':' + (u.username || '')).join('|');
    if (sel.dataset.sig === want) return;
    sel.dataset.sig = want;
    sel.replaceChildren(...users.map((u) => {
      const o = document.createElement('option');
      o.value = String(u.id);
      o.dataset.username = u.username || '';
      o.textContent = u.first_name + (u.username ? ' (@' + u.username + ')' : '') + ' · ' + u.id;
      return o;
    }));
    if (userId !== null) sel.value = String(userId);
  }

  // ---- formatted text
  const TAGS = { bold: 'b', italic: 'i', underline: 'u', strikethrough: 's', code: 'code', pre: 'pre',
    blockquote: 'blockquote', expandable_blockquote: 'blockquote' };
  function renderNodes(parent, nodes) {
    for (const n of nodes || []) {
      if (n.t === 'text') { parent.appendChild(document.createTextNode(n.v || '')); continue; }
      let el;
      if (n.t === 'text_link') {
        el = document.createElement('a');
        const href = n.href || '';
        if (n.miniapp) {
          el.href = '#';
          el.dataset.miniapp = href;
          el.addEventListener('click', (ev) => { ev.preventDefault(); openMiniApp(href); });
        } else if (/^https?:[/][/]/i.test(href)) {
          el.href = href;
          el.target = '_blank';
          el.rel = 'noopener noreferrer';
        }
      } else if (n.t === 'spoiler') {
        el = document.createElement('span');
        el.className = 'spoiler';
        el.addEventListener('click', () => el.classList.add('revealed'));
      } else {
        el = document.createElement(TAGS[n.t] || 'span');
      }
      renderNodes(el, n.c);
      parent.appendChild(el);
    }
  }

  // ---- messages
  function renderMessage(m) {
    const el = document.createElement('div');
    el.className = 'message';
    el.dataset.messageId = String(m.id);
    el.dataset.from = m.from_bot ? 'bot' : 'user';
    el.dataset.edited = String(m.edited);
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    if (m.photo_url) {
      bubble.classList.add('has-photo');
      const img = document.createElement('img');
      img.className = 'photo';
      img.alt = 'photo';
      img.src = m.photo_url;
      bubble.appendChild(img);
    }
    const text = document.createElement('div');
    text.className = m.photo_url ? 'text caption' : 'text';
    renderNodes(text, m.tree);
    const meta = document.createElement('span');
    meta.className = 'meta';
    const d = new Date(m.date * 1000);
    meta.textContent = (m.edited ? 'edited ' : '') + d.toTimeString().slice(0, 5);
    if (m.edited) meta.classList.add('edited');
    text.appendChild(meta);
    bubble.appendChild(text);
    el.appendChild(bubble);
    if (m.buttons && m.buttons.length) {
      const kb = document.createElement('div');
      kb.className = 'keyboard';
      for (const row of m.buttons) {
        const r = document.createElement('div');
        r.className = 'row';
        for (const b of row) r.appendChild(renderButton(m, b));
        kb.appendChild(r);
      }
      el.appendChild(kb);
    }
    return el;
  }

  function renderButton(m, b) {
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.textContent = b.text;
    btn.title = b.text;
    if (b.callback_data !== undefined) {
      btn.dataset.callback = b.callback_data;
      btn.addEventListener('click', () => press(btn, m.id, b.callback_data));
    } else if (b.url) {
      btn.dataset.url = b.url;
      if (b.miniapp) {
        btn.dataset.miniapp = 'true';
        btn.addEventListener('click', () => openMiniApp(b.url));
      } else {
        btn.addEventListener('click', () => window.open(b.url, '_blank', 'noopener,noreferrer'));
      }
    } else if (b.web_app_url) {
      btn.dataset.webapp = b.web_app_url;
      btn.addEventListener('click', () => toast('web_app buttons are not emulated; use a direct Mini App link'));
    }
    return btn;
  }

  async function press(btn, messageId, data) {
    if (btn.classList.contains('pending')) return;
    btn.classList.add('pending');
    try {
      const a = await api('press', { user: userId, message_id: messageId, data });
      if (a.answered && a.text) toast(a.text, a.show_alert);
    } catch (e) {
      toast(e.message);
    } finally {
      btn.classList.remove('pending');
    }
  }

  function renderMessages(msgs) {
    const box = $('#messages');
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const seen = new Set();
    let prev = null;
    let added = false;
    for (const m of msgs) {
      const id = String(m.id);
      seen.add(id);
      const sig = JSON.stringify(m);
      let el = box.querySelector(':scope > [data-message-id="' + id + '"]');
      if (!el || sigs.get(id) !== sig) {
        const fresh = renderMessage(m);
        if (el) el.replaceWith(fresh); else added = true;
        el = fresh;
        sigs.set(id, sig);
      }
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== el) box.insertBefore(el, want);
      prev = el;
    }
    for (const el of [...box.children]) {
      if (!seen.has(el.dataset.messageId)) { sigs.delete(el.dataset.messageId); el.remove(); }
    }
    box.dataset.count = String(msgs.length);
    if (added && nearBottom) box.scrollTop = box.scrollHeight;
  }

  function render(s) {
    $('#bot-name').textContent = s.bot.first_name;
    $('#bot-username').textContent = '@' + s.bot.username;
    $('#bot-avatar').textContent = (s.bot.first_name || 'B').slice(0, 1).toUpperCase();
    document.title = s.bot.first_name + ' · Telegram emulator';
    renderUsers(s.users);
    commands = s.commands || [];
    $('#commands-button').hidden = commands.length === 0;
    if (s.user) renderMessages(s.messages);
    document.body.dataset.version = String(s.version);
  }

  async function refreshOnce() {
    const s = await api('state?user=' + (userId === null ? 0 : userId));
    render(s);
    return s;
  }

  async function loop() {
    for (;;) {
      const uid = userId;
      poll = new AbortController();
      const q = 'state?user=' + uid + (version === null ? '' : '&since=' + version + '&wait=20');
      try {
        const s = await api(q, undefined, poll.signal);
        if (uid !== userId) continue;
        version = s.version;
        render(s);
      } catch (e) {
        if (uid === userId) await sleep(1000);
      }
    }
  }

  // ---- composer and command menu
  async function send(text) {
    if (!text.trim() || userId === null) return;
    try { await api('send', { user: userId, text }); } catch (e) { toast(e.message); }
  }
  const input = $('#composer-input');
  $('#composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    input.value = '';
    hideCommands();
    send(text);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $('#composer').requestSubmit();
    } else if (ev.key === 'Escape') {
      hideCommands();
    }
  });
  input.addEventListener('input', () => {
    const v = input.value;
    if (/^\/[a-z0-9_]*$/i.test(v) && commands.length) showCommands(v.slice(1)); else hideCommands();
  });
  function showCommands(prefix) {
    const menu = $('#commands-menu');
    const list = commands.filter((c) => c.command.startsWith((prefix || '').toLowerCase()));
    if (!list.length) { hideCommands(); return; }
    menu.replaceChildren(...list.map((c) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'command';
      b.setAttribute('role', 'menuitem');
      b.dataset.command = '/' + c.command;
      const name = document.createElement('b');
      name.textContent = '/' + c.command;
      const desc = document.createElement('span');
      desc.textContent = c.description;
      b.append(name, desc);
      b.addEventListener('click', () => { input.value = ''; hideCommands(); send('/' + c.command); });
      return b;
    }));
    menu.hidden = false;
  }
  function hideCommands() { $('#commands-menu').hidden = true; }
  $('#commands-button').addEventListener('click', () => {
    if ($('#commands-menu').hidden) showCommands(''); else hideCommands();
  });

  // ---- Mini App panel, with Telegram Web's postMessage protocol
  const panel = $('#miniapp-panel');
  const frame = $('#miniapp-frame');
  const mainButton = $('#miniapp-main-button');

  async function openMiniApp(url) {
    try {
      const r = await api('open', { user: userId, url });
      panel.dataset.ready = 'false';
      mainButton.hidden = true;
      frame.src = r.launch_url;
      panel.hidden = false;
      panel.dataset.state = 'open';
    } catch (e) {
      toast(e.message);
    }
  }
  function closeMiniApp() {
    frame.src = 'about:blank';
    panel.hidden = true;
    panel.dataset.state = 'closed';
    panel.dataset.ready = 'false';
    mainButton.hidden = true;
  }
  function postToApp(eventType, eventData) {
    if (frame.contentWindow) frame.contentWindow.postMessage(JSON.stringify({ eventType, eventData }), '*');
  }
  $('#miniapp-close').addEventListener('click', closeMiniApp);
  mainButton.addEventListener('click', () => postToApp('main_button_pressed', {}));

  window.addEventListener('message', (ev) => {
    if (ev.source !== frame.contentWindow) return;
    let d;
    try { d = typeof ev.data === 'string' ? JSON.parse(ev.data) : ev.data; } catch (e) { return; }
    if (!d || typeof d.eventType !== 'string') return;
    const data = d.eventData || {};
    switch (d.eventType) {
      case 'web_app_close': closeMiniApp(); break;
      case 'web_app_ready': panel.dataset.ready = 'true'; break;
      case 'web_app_expand': break;
      case 'web_app_setup_main_button':
        mainButton.hidden = !data.is_visible;
        mainButton.disabled = data.is_active === false;
        mainButton.textContent = data.text || 'Continue';
        mainButton.dataset.progress = String(!!data.is_progress_visible);
        break;
      case 'web_app_request_theme': postToApp('theme_changed', { theme_params: THEME }); break;
      case 'web_app_request_viewport':
        postToApp('viewport_changed', { height: frame.clientHeight, is_expanded: true, is_state_stable: true });
        break;
      case 'web_app_open_link':
        if (/^https?:[/][/]/i.test(data.url || '')) window.open(data.url, '_blank', 'noopener,noreferrer');
        break;
      case 'web_app_open_tg_link':
        if (typeof data.path_full === 'string') openMiniApp('https://t.me' + data.path_full);
        break;
      default: break; // other events (header colour, back button, haptics) are ignored
    }
  });

  // ---- start: ?user=<username or id> picks (or creates) the user
  async function start() {
    let s;
    for (;;) {
      try { s = await refreshOnce(); break; } catch (e) { await sleep(1000); }
    }
    const want = new URLSearchParams(location.search).get('user');
    let id = null;
    try {
      if (want && /^\d+$/.test(want) && s.users.some((u) => u.id === Number(want))) id = Number(want);
      else if (want) id = (await api('users', { username: want })).id;
      else if (s.users.length) id = s.users[0].id;
      else id = (await api('users', { username: 'alice', first_name: 'Alice' })).id;
    } catch (e) {
      toast(e.message);
      id = s.users.length ? s.users[0].id : (await api('users', { username: 'alice', first_name: 'Alice' })).id;
    }
    await refreshOnce();
    chooseUser(id);
    loop();
  }
  start();
})();
