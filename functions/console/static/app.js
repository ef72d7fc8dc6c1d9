/* The staff console: sign in with LINE (LIFF, or the local run's stand-in), then talk to /me.
 * Vanilla JS, hash routes, no build step. Server strings only ever reach the DOM as textContent. */
'use strict';
(() => {
  const TZ = 'Asia/Taipei';
  const LIFF_SDK = 'https://static.line-scdn.net/liff/edge/2/sdk.js';
  const TOKEN_KEY = 'omo2c.console.token';
  const DEV_SUB_KEY = 'omo2c.console.devSub';
  const RELOGIN_KEY = 'omo2c.console.relogin';
  const KEY_KEY = 'omo2c.console.key';  // 行銷與報表 signed in with the admin token or an API key (marketing.js)
  const MARKETING = /^#\/marketing(?:\/|$)/;
  const NO_ACCESS = '您沒有權限查看這個頁面';
  const EXPIRED = '登入已過期，請重新登入';
  const UNLINKED = '無法登入：這個 LINE 帳號尚未連結員工資料，或登入已失效。請向店長索取連結碼。';
  const S = { config: { liff_id: '', brand: '' }, token: null, me: null, gen: 0, timers: [], q: '',
    sort: 'last_message', month: '', qrUrl: null, keyMode: false };
  const $ = (sel, root = document) => root.querySelector(sel);
  const view = $('#view');

  // ---------------------------------------------------------------- small helpers
  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'class') node.className = value;
      else if (key === 'href') { const url = safeUrl(value); if (url) node.href = url; }
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const kid of kids) if (kid != null && kid !== '') node.append(kid);  // strings become text nodes
    return node;
  }
  function tpl(id) {
    const frag = $(`#t-${id}`).content.cloneNode(true);
    const slots = {};
    frag.querySelectorAll('[data-slot]').forEach((n) => { slots[n.dataset.slot] = n; });
    return { frag, slots, root: frag.firstElementChild };
  }
  /** Only http(s) links and images: a server string must never become a javascript: URL. */
  function safeUrl(value) {
    const text = String(value ?? '').trim();
    if (!text) return null;
    if (text.startsWith('#')) return text;  // our own hash routes
    try {
      const url = new URL(text, location.href);
      return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
    } catch { return null; }
  }
  const enc = encodeURIComponent;
  const dateTime = new Intl.DateTimeFormat('zh-TW', { timeZone: TZ, month: 'numeric', day: 'numeric', hour: '2-digit',
    minute: '2-digit', hour12: false });
  const fullDate = new Intl.DateTimeFormat('zh-TW', { timeZone: TZ, year: 'numeric', month: 'numeric',
    day: 'numeric' });
  function when(iso, format = dateTime) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : format.format(d);
  }
  const moneyFormats = {};
  function money(amount, currency) {
    const n = Number(amount);
    if (amount == null || amount === '') return '';
    if (!Number.isFinite(n)) return `${amount} ${currency || ''}`.trim();
    if (!currency) return n.toLocaleString('zh-TW');
    try {
      const cents = String(amount).includes('.') || !Number.isInteger(n) ? 2 : 0;  // "76.00" keeps its cents
      const key = `${currency}${cents}`;
      moneyFormats[key] ||= new Intl.NumberFormat('zh-TW', { style: 'currency', currency, minimumFractionDigits: cents,
        maximumFractionDigits: 2 });
      return moneyFormats[key].format(n);
    } catch { return `${n.toLocaleString('zh-TW')} ${currency}`; }
  }
  function duration(seconds) {
    if (seconds == null || seconds === '') return '—';
    const s = Math.round(Number(seconds));
    if (!Number.isFinite(s)) return String(seconds);
    if (s < 60) return `${s} 秒`;
    if (s < 3600) return `${Math.floor(s / 60)} 分 ${s % 60} 秒`;
    return `${Math.floor(s / 3600)} 小時 ${Math.floor((s % 3600) / 60)} 分`;
  }
  function thisMonth() {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: TZ, year: 'numeric', month: '2-digit' })
      .formatToParts(new Date());
    const get = (type) => parts.find((p) => p.type === type).value;
    return `${get('year')}-${get('month')}`;
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }
  let toastTimer;
  function toast(text, bad) {
    const box = $('#toast');
    box.textContent = text;
    box.className = bad ? 'toast bad' : 'toast';
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, bad ? 5000 : 2500);
  }
  async function copy(text) {
    try { await navigator.clipboard.writeText(text); toast('已複製'); } catch { window.prompt('請複製：', text); }
  }
  const chip = (text, kind) => el('span', { class: `chip${kind ? ` chip-${kind}` : ''}`, text });
  const NAPL = { new: '新客', active: '活躍', passive: '沉睡', lost: '流失', prospect: '潛在' };
  const KIND = { phone: '電話', email: 'Email', line_user_id: 'LINE', pos_member_no: '門市會員編號', ec_customer_id: '網店會員' };
  const CONSENT = { sms: '簡訊', email: 'Email', line: 'LINE', marketing: '行銷訊息' };
  const CHANNEL = { pos: '門市', ec: '網店' };
  const STATUS = { sent: '已送達', queued: '傳送中', pending: '傳送中', failed: '傳送失敗', read: '已讀',
    approved: '已核准', credit: '計入', clawback: '沖回', reversal: '沖回', reversed: '已沖回', paid: '已付款',
    refunded: '已退款', cancelled: '已取消' };
  const label = (map, key) => map[key] || key || '';

  // ---------------------------------------------------------------- the API
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }
  const SIGNED_OUT = new ApiError(401, { message: '請重新登入' });

  function tokenExpired(token) {
    try {
      const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      return typeof claims.exp === 'number' && claims.exp * 1000 < Date.now() + 30000;
    } catch { return false; }  // not a JWT we can read: let the server decide
  }

  async function api(path, { method = 'GET', body, headers = {}, blob = false } = {}) {
    if (!S.token || tokenExpired(S.token)) { signedOut(); throw SIGNED_OUT; }
    const accept = blob ? 'image/png' : 'application/json';
    const init = { method, cache: 'no-store', headers: { Authorization: `Bearer ${S.token}`, Accept: accept,
      ...headers } };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    let response;
    try { response = await fetch(path, init); } catch {
      throw new ApiError(0, { message: '網路連線失敗，請稍後再試' });
    }
    if (response.status === 401) { signedOut(); throw SIGNED_OUT; }
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      // The gateway's authorizer answers a rejected token with a bare 403 ({"message": "Forbidden"}).
      if (response.status === 403 && !data.error) { signedOut(S.me ? EXPIRED : UNLINKED); throw SIGNED_OUT; }
      throw new ApiError(response.status, data);
    }
    if (blob) return response.blob();
    return response.status === 204 ? null : response.json();
  }

  function fail(error, live = () => true) {
    if (error === SIGNED_OUT || !live()) return;
    if (error instanceof ApiError && error.status === 403) return notice(NO_ACCESS, true);
    if (error instanceof ApiError && error.status === 404) return notice('找不到這個頁面', true);
    console.error(error);
    notice(error instanceof ApiError ? `發生錯誤：${error.message}` : '發生錯誤，請重新整理頁面', true);
  }
  function errorText(error) {
    if (error instanceof ApiError && error.status === 403) return NO_ACCESS;
    if (error instanceof ApiError && error.status === 409) return `無法傳送（${error.message}）`;
    if (error instanceof ApiError && error.status === 422) {
      const fields = (error.body.details || []).map((d) => d.field).filter(Boolean);
      return fields.length ? `請檢查欄位：${fields.join('、')}` : error.message;
    }
    return error instanceof ApiError ? error.message : '發生錯誤';
  }

  // ---------------------------------------------------------------- sign-in
  function setToken(token) { S.token = token; sessionStorage.setItem(TOKEN_KEY, token); }

  function loadScript(src, what = 'LINE 登入元件') {
    return new Promise((resolve, reject) => {
      const script = el('script', { src });
      script.onload = resolve;
      script.onerror = () => reject(new Error(`無法載入${what}`));
      document.head.append(script);
    });
  }
  function loadStyle(href) {
    return new Promise((resolve, reject) => {
      const link = el('link', { rel: 'stylesheet', href });
      link.onload = resolve;
      link.onerror = () => reject(new Error('無法載入頁面樣式'));
      document.head.append(link);
    });
  }

  async function liffSignIn(force) {
    if (!window.liff) await loadScript(LIFF_SDK);
    await window.liff.init({ liffId: S.config.liff_id });
    const again = Number(sessionStorage.getItem(RELOGIN_KEY) || 0);
    if (force && Date.now() - again < 60000) throw new Error('LINE 登入失敗，請關閉後重新開啟');
    if (force || !window.liff.isLoggedIn() || tokenExpired(window.liff.getIDToken() || '')) {
      sessionStorage.setItem(RELOGIN_KEY, String(Date.now()));
      if (window.liff.isLoggedIn()) window.liff.logout();
      window.liff.login({ redirectUri: location.href });
      return new Promise(() => {});  // the page is leaving for LINE Login
    }
    const token = window.liff.getIDToken();
    if (!token) throw new Error('LINE 沒有提供 ID token（請確認 LIFF 的 openid scope）');
    return token;
  }

  function signedOut(message = EXPIRED) {
    S.token = null;
    S.me = null;
    sessionStorage.removeItem(TOKEN_KEY);
    stopTimers();
    S.gen += 1;
    if (!S.config.liff_id) showSignIn(message);
    else if (message === UNLINKED) notice(message, false);
    else liffSignIn(true).then((token) => { setToken(token); return start(); }).catch((e) => notice(e.message, false));
  }

  function showSignIn(message) {
    $('#tabs').hidden = true;
    $('#signout').hidden = true;
    $('#who').textContent = '';
    const { frag, slots } = tpl('signin');
    const form = frag.querySelector('form');
    const input = form.elements.sub;
    const button = form.querySelector('button');
    input.value = localStorage.getItem(DEV_SUB_KEY) || '';
    if (message) { slots.error.textContent = message; slots.error.hidden = false; }
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const sub = input.value.trim();
      if (!sub) return;
      button.disabled = true;
      slots.error.hidden = true;
      try {
        const response = await fetch('_local/line/id-token', { method: 'POST', body: JSON.stringify({ sub }),
          headers: { 'Content-Type': 'application/json' } });
        const data = await response.json().catch(() => ({}));
        if (!response.ok || !data.id_token) {
          throw new Error(`登入失敗（HTTP ${response.status}）${data.message ? `：${data.message}` : ''}`);
        }
        localStorage.setItem(DEV_SUB_KEY, sub);
        setToken(data.id_token);
        await start();
      } catch (error) {
        slots.error.textContent = error.message || '登入失敗';
        slots.error.hidden = false;
      } finally { button.disabled = false; }
    });
    mount(frag);
    input.focus();
  }

  async function start() {
    try { S.me = await api('me'); } catch (error) {
      if (error === SIGNED_OUT) return;
      if (error instanceof ApiError && error.status === 403) {
        notice(`${NO_ACCESS}（這個 LINE 帳號尚未連結員工資料，請向店長索取連結碼）`, false);
        $('#signout').hidden = false;
        return;
      }
      return fail(error);
    }
    sessionStorage.removeItem(RELOGIN_KEY);
    $('#who').textContent = [S.me.name, S.me.store_name || S.me.store_id].filter(Boolean).join('・');
    $('#tabs').hidden = false;
    $('#signout').hidden = false;
    $('#tab-inbox').hidden = S.me.role !== 'manager';
    $('#tab-marketing').hidden = S.me.role !== 'manager';
    route();
  }

  // ---------------------------------------------------------------- router
  const ROUTES = [
    [/^#\/qr$/, showQr], [/^#\/customers$/, showCustomers], [/^#\/customers\/([^/]+)$/, showCustomer],
    [/^#\/links$/, showLinks], [/^#\/performance(?:\/(\d{4}-\d{2}))?$/, showPerformance], [/^#\/inbox$/, showInbox],
    [/^#\/marketing(?:\/(.*))?$/, showMarketing],
  ];
  function stopTimers() { S.timers.forEach(clearInterval); S.timers = []; }
  function mount(node) { view.replaceChildren(node); window.scrollTo(0, 0); }
  function notice(text, home) {
    const { frag, slots } = tpl('message');
    slots.text.textContent = text;
    slots.home.hidden = !home || !S.me;
    mount(frag);
  }

  async function route() {
    // 行銷與報表 without a LINE sign-in: the admin token or an API key, pasted in marketing.js's own form.
    if (!S.keyMode && !S.me && !S.token && MARKETING.test(location.hash)) S.keyMode = true;
    if (S.keyMode) return keyRoute();
    if (!S.me) return;
    stopTimers();
    const gen = ++S.gen;
    const live = () => gen === S.gen;
    const hash = location.hash || '#/customers';
    const found = ROUTES.map(([re, show]) => [hash.match(re), show]).find(([m]) => m);
    if (!found) { location.hash = '#/customers'; return; }
    const [match, show] = found;
    const tab = hash.split('/')[1];
    document.querySelectorAll('#tabs a').forEach((a) => {
      if (a.dataset.tab === tab) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    try { await show(live, ...match.slice(1)); } catch (error) { fail(error, live); }
  }

  // ---------------------------------------------------------------- 我的 QR code
  async function showQr(live) {
    const { frag, slots } = tpl('qr');
    const qr = S.me.qr || {};
    slots.message.textContent = qr.message || '';
    const url = safeUrl(qr.url);
    if (url) {
      slots.url.href = url;
      try { slots.url.textContent = decodeURI(url); } catch { slots.url.textContent = url; }
    }
    slots.copy.hidden = !url;
    slots.copy.addEventListener('click', () => copy(url));
    if (S.qrUrl) slots.img.src = S.qrUrl;
    mount(frag);
    if (S.qrUrl) return;
    const image = await api('me/qr', { blob: true });
    S.qrUrl = URL.createObjectURL(image);
    if (live()) slots.img.src = S.qrUrl;
  }

  // ---------------------------------------------------------------- 我的顧客
  function customerChips(c) {
    const chips = [];
    if (c.tier) chips.push(chip(c.tier, 'tier'));
    if (c.napl) chips.push(chip(label(NAPL, c.napl), `napl-${c.napl}`));
    for (const tag of c.tags || []) chips.push(chip(tag));
    if (c.opted_out) chips.push(chip('已退訂', 'warn'));
    if (c.line_followed === false) chips.push(chip('未加好友', 'warn'));
    return chips;
  }

  function customerRow(c, sort) {
    const { root, slots } = tpl('customer-row');
    const link = root.querySelector('a');
    link.href = `#/customers/${enc(c.member_id)}`;
    link.dataset.memberId = c.member_id;
    slots.name.textContent = c.name || '（未留姓名）';
    slots.phone.textContent = c.phone_tail ? `…${c.phone_tail}` : '';
    slots.chips.append(...customerChips(c));
    if (c.unread > 0) { slots.unread.textContent = String(c.unread); slots.unread.hidden = false; }
    const at = sort === 'last_order' ? c.last_order_at : c.last_message_at;
    slots.when.textContent = at ? `${sort === 'last_order' ? '購買' : '訊息'} ${when(at)}` : '';
    return root;
  }

  async function showCustomers(live) {
    const { frag, slots } = tpl('customers');
    slots.q.value = S.q;
    slots.sort.value = S.sort;
    let seq = 0;
    const load = async () => {
      const mine = ++seq;
      const params = new URLSearchParams({ sort: S.sort });
      if (S.q) params.set('q', S.q);
      const data = await api(`me/customers?${params}`);
      if (!live() || mine !== seq) return;
      const customers = data.customers || [];
      slots.list.replaceChildren(...customers.map((c) => customerRow(c, S.sort)));
      slots.empty.hidden = customers.length > 0;
    };
    slots.q.addEventListener('input', debounce(() => {
      S.q = slots.q.value.trim();
      load().catch((e) => fail(e, live));
    }, 300));
    slots.sort.addEventListener('change', () => { S.sort = slots.sort.value; load().catch((e) => fail(e, live)); });
    mount(frag);
    await load();
    S.timers.push(setInterval(() => { if (document.visibilityState === 'visible') load().catch(() => {}); }, 30000));
  }

  // ---------------------------------------------------------------- one customer and the conversation
  function productCard(p) {
    const src = safeUrl(p.image_url);
    const img = src && el('img', { src, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' });
    if (img) img.addEventListener('error', () => { img.hidden = true; });
    const href = p.short_url || p.url;
    return el('div', { class: 'product' }, img,
      el('div', null, el('a', { href, text: p.title || p.url || '商品', target: '_blank', rel: 'noopener noreferrer' }),
        p.price ? el('div', { class: 'price', text: money(p.price, p.currency || 'TWD') }) : null,
        p.short_url ? el('small', { class: 'muted', text: p.short_url }) : null));
  }

  function messageBody(m) {
    switch (m.kind) {
      case 'product': return m.product ? productCard(m.product) : el('p', { text: m.text || '〔商品〕' });
      case 'sticker': return el('p', { text: '〔貼圖〕' });
      case 'image': return el('p', { text: '〔圖片〕' });
      case 'location': {
        const loc = m.location || {};
        return el('p', { text: `📍 ${[loc.title, loc.address].filter(Boolean).join(' ') || '位置資訊'}` });
      }
      default: return el('p', { text: m.text || `〔${m.kind || '訊息'}〕` });
    }
  }

  function messageItem(m) {
    const out = m.direction === 'out';
    const meta = [when(m.at)];
    if (out && m.staff_id && S.me && m.staff_id !== S.me.staff_id) meta.push(m.staff_id);
    if (out && m.status && m.status !== 'sent') meta.push(label(STATUS, m.status));
    const classes = `msg ${out ? 'out' : 'in'}${m.status === 'failed' ? ' failed' : ''}`;
    return el('li', { class: classes, 'data-testid': 'message', 'data-direction': out ? 'out' : 'in',
      'data-message-id': m.message_id },
    el('div', { class: 'bubble' }, messageBody(m)), el('small', { class: 'muted', text: meta.join('・') }));
  }

  class Chat {
    constructor(slots, memberId, firstPage) {
      this.slots = slots;
      this.path = `me/conversations/${enc(memberId)}/messages`;
      this.messages = new Map();
      this.cursor = firstPage.next_cursor || null;
      this.merge(firstPage.messages);
      slots.older.addEventListener('click', () => this.older());
    }

    merge(messages) {
      let added = false;
      for (const m of messages || []) {
        if (!m || !m.message_id) continue;
        added ||= !this.messages.has(m.message_id);
        this.messages.set(m.message_id, m);
      }
      return added;
    }

    render() {
      const sorted = [...this.messages.values()].sort((a, b) => String(a.at).localeCompare(String(b.at)));
      this.slots.messages.replaceChildren(...sorted.map(messageItem));
      this.slots.nomessages.hidden = sorted.length > 0;
      this.slots.older.hidden = !this.cursor;
    }

    end() { this.slots.messages.scrollTop = this.slots.messages.scrollHeight; }

    add(message) { if (message && message.message_id) { this.merge([message]); this.render(); this.end(); } }

    async older() {
      this.slots.older.disabled = true;
      try {
        const page = await api(`${this.path}?before=${enc(this.cursor)}`);
        this.cursor = page.next_cursor || null;
        this.merge(page.messages);
        this.render();
      } catch (error) {
        if (error !== SIGNED_OUT) toast(errorText(error), true);
      } finally { this.slots.older.disabled = false; }
    }

    async refresh() {
      const page = await api(this.path);
      if (this.merge(page.messages)) { this.render(); this.end(); }
    }

    /** One user action, one Idempotency-Key: a double tap or a retry after a lost answer sends once. */
    bind(form, payloadOf, done) {
      let draft = null;
      let sending = false;
      const button = form.querySelector('button[type=submit]');
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const payload = payloadOf();
        if (!payload || sending) return;
        const fingerprint = JSON.stringify(payload);
        if (!draft || draft.fingerprint !== fingerprint) draft = { fingerprint, key: uuid() };
        sending = true;
        button.disabled = true;
        try {
          const headers = { 'Idempotency-Key': draft.key };
          const message = await api(this.path, { method: 'POST', body: payload, headers });
          draft = null;
          this.add(message);
          done();
          toast('已傳送');
        } catch (error) {
          if (error instanceof ApiError && error.status >= 400 && error.status < 500) draft = null;
          if (error !== SIGNED_OUT) toast(`沒有送出：${errorText(error)}`, true);
        } finally { sending = false; button.disabled = false; }
      });
    }
  }

  function renderProfile(c, slots) {
    slots.name.textContent = c.name || '（未留姓名）';
    slots.chips.append(...customerChips(c));
    const facts = [['等級', c.tier || '—'], ['NAPL', label(NAPL, c.napl) || '—'],
      ['LINE 好友', c.line_followed ? '是' : '否'], ['行銷訊息', c.opted_out ? '已退訂' : '可接收'],
      ['標籤', (c.tags || []).join('、') || '—']];
    if (c.conversation && c.conversation.last_message_at) facts.push(['最近訊息', when(c.conversation.last_message_at)]);
    slots.facts.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    const ids = (c.identifiers || []).map((i) => el('li', { 'data-testid': 'identifier' },
      el('span', { class: 'muted', text: `${label(KIND, i.kind)}　` }), el('span', { class: 'mono', text: i.value })));
    slots.identifiers.replaceChildren(...(ids.length ? ids : [el('li', { class: 'muted', text: '—' })]));
    const consent = Object.entries(c.consent || {}).map(([k, v]) => el('li', null,
      el('span', { class: 'muted', text: `${label(CONSENT, k)}　` }), v ? '同意' : '未同意'));
    slots.consent.replaceChildren(...(consent.length ? consent : [el('li', { class: 'muted', text: '—' })]));
  }

  const orderItem = (o) => el('article', { class: 'order', 'data-testid': 'order' },
    el('header', null, el('strong', { text: money(o.total, o.currency) }),
      el('span', { class: 'muted', text: [when(o.placed_at, fullDate), label(CHANNEL, o.channel), o.order_id,
        label(STATUS, o.status)].filter(Boolean).join('・') })),
    el('ul', { class: 'plain items' }, ...(o.items || []).map((i) => el('li', null,
      `${i.name || i.sku || '商品'} × ${i.quantity ?? 1}`,
      el('span', { class: 'muted', text: money(i.price, o.currency) })))));

  /** Orders come newest first, a page at a time: the customer view's `before` pages further back. */
  function renderOrders(c, box, memberId) {
    const page = c.orders || {};
    const orders = Array.isArray(page) ? page : page.orders || [];
    if (!orders.length) { box.replaceChildren(el('p', { class: 'muted', text: '還沒有訂單' })); return; }
    const list = el('div', null, ...orders.map(orderItem));
    const more = el('button', { type: 'button', class: 'secondary small', text: '載入更早的訂單' });
    let cursor = page.next_cursor;
    more.hidden = !cursor;
    more.addEventListener('click', async () => {
      more.disabled = true;
      try {
        const next = (await api(`me/customers/${enc(memberId)}?before=${enc(cursor)}`)).orders || {};
        list.append(...(next.orders || []).map(orderItem));
        cursor = next.next_cursor;
        more.hidden = !cursor;
      } catch (error) {
        if (error !== SIGNED_OUT) toast(errorText(error), true);
      } finally { more.disabled = false; }
    });
    box.replaceChildren(list, more);
  }

  function renderBinding(c, slots) {
    const b = c.binding;
    slots.binding.replaceChildren(b
      ? el('p', { text: `目前綁定 ${b.staff_id || '—'}${b.store_id ? `（${b.store_id}）` : ''}`
        + `，自 ${when(b.bound_at, fullDate)}${b.via ? `，經由 ${b.via}` : ''}${b.active === false ? '（已過期）' : ''}` })
      : el('p', { class: 'muted', text: '目前沒有綁定' }));
    slots.history.replaceChildren(...(c.binding_history || []).map((h) => el('li', null,
      el('span', { class: 'muted', text: `${when(h.at, fullDate)}　` }),
      `${h.previous_staff_id || '—'} → ${h.staff_id || '—'}${h.via ? `（${h.via}）` : ''}`)));
  }

  async function showCustomer(live, rawId) {
    const id = decodeURIComponent(rawId);
    const [customer, firstPage] = await Promise.all([api(`me/customers/${enc(id)}`),
      api(`me/conversations/${enc(id)}/messages`)]);
    if (!live()) return;
    const { frag, slots } = tpl('customer');
    renderProfile(customer, slots);
    renderOrders(customer, slots.orders, id);
    renderBinding(customer, slots);
    const chat = new Chat(slots, id, firstPage);
    const box = slots.reply.elements.text;
    chat.bind(slots.reply, () => (box.value.trim() ? { text: box.value.trim() } : null), () => { box.value = ''; });
    box.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) slots.reply.requestSubmit();
    });
    const fields = slots.product.elements;
    chat.bind(slots.product, () => {
      const product = {};
      for (const name of ['url', 'title', 'image_url', 'price']) {
        const value = fields[name].value.trim();
        if (value) product[name] = value;
      }
      return product.url && product.title ? { product } : null;
    }, () => {
      slots.product.reset();
      slots.productbox.open = false;
      slots.messages.scrollIntoView({ block: 'nearest' });
    });
    chat.render();
    mount(frag);
    chat.end();
    S.timers.push(setInterval(() => {
      if (document.visibilityState === 'visible') chat.refresh().catch(() => {});
    }, 10000));
  }

  // ---------------------------------------------------------------- 分享連結
  async function showLinks(live) {
    const { frag, slots } = tpl('links');
    const load = async () => {
      const data = await api('me/links');
      if (!live()) return;
      const links = data.links || [];
      slots.rows.replaceChildren(...links.map((l) => el('li', { class: 'row', 'data-testid': 'link-row' },
        el('span', { class: 'main' },
          el('a', { href: l.short_url, text: l.short_url, target: '_blank', rel: 'noopener noreferrer' }),
          el('small', { class: 'muted ellipsis', text: l.url }),
          el('small', { class: 'muted', text: `建立於 ${when(l.created_at, fullDate)}` })),
        el('span', { class: 'side' }, el('strong', { 'data-testid': 'link-clicks', text: `${l.clicks ?? 0} 次點擊` }),
          el('small', { class: 'muted', text: `機器人 ${l.bot_clicks ?? 0}・重複 ${l.repeat_clicks ?? 0}` })))));
      slots.empty.hidden = links.length > 0;
    };
    const form = slots.form;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      try {
        const link = await api('me/links', { method: 'POST', body: { url: form.elements.url.value.trim() } });
        const copyButton = el('button', { type: 'button', class: 'secondary small', text: '複製' });
        copyButton.addEventListener('click', () => copy(link.short_url));
        slots.created.replaceChildren('已建立：', el('a', { href: link.short_url, text: link.short_url, target: '_blank',
          rel: 'noopener noreferrer' }), ' ', copyButton);
        slots.created.hidden = false;
        form.elements.url.value = '';
        await load();
      } catch (error) { if (error !== SIGNED_OUT) toast(errorText(error), true); } finally { button.disabled = false; }
    });
    mount(frag);
    await load();
  }

  // ---------------------------------------------------------------- 我的業績
  const KPIS = [['bound_customers', '綁定顧客'], ['new_bindings', '當月新綁定'], ['messages_answered', '回覆訊息'],
    ['median_first_reply_seconds', '首次回覆（中位數）', duration], ['clicks', '連結點擊'], ['bot_clicks', '機器人點擊'],
    ['repeat_clicks', '重複點擊'], ['credited_orders', '計入訂單'], ['credited_sales', '計入業績', salesText],
    ['commission', '佣金', commissionText]];
  const LINE_COLUMNS = { created_at: '時間', source: '來源', order_id: '訂單', kind: '類型', base: '計算基礎',
    amount: '佣金', currency: '幣別', rule: '規則', rate: '比率', status: '狀態' };
  const TOTALS = { pending: '待確認', approved: '已核准', clawbacks: '沖回', total: '合計', commission: '佣金', sales: '業績' };

  function salesText(value) {
    if (value && typeof value === 'object') {
      const parts = Object.entries(value).map(([cur, amount]) => money(amount, cur));
      return parts.length ? parts.join('\n') : '0';
    }
    return value == null ? '—' : String(value);
  }
  function commissionText(totals, kpis) {
    if (!totals || typeof totals !== 'object') return scalar(totals);
    const currencies = Object.keys(kpis.credited_sales || {});
    const cur = currencies.length === 1 ? currencies[0] : 'TWD';
    const rest = ['pending', 'approved', 'clawbacks'].filter((k) => k in totals)
      .map((k) => `${label(TOTALS, k)} ${money(totals[k], cur)}`);
    return [money(totals.total, cur), rest.join('・')];  // the total, and how it splits
  }
  function scalar(value) {
    if (value == null || value === '') return '—';
    if (typeof value === 'object') return JSON.stringify(value);
    if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) return when(value);
    return String(value);
  }

  function renderKpis(kpis, box) {
    const known = new Set(['month', 'staff_id', ...KPIS.map(([k]) => k)]);
    const rows = KPIS.filter(([k]) => k in kpis)
      .map(([k, name, format]) => [k, name, (format || scalar)(kpis[k], kpis)]);
    for (const [k, v] of Object.entries(kpis)) if (!known.has(k) && typeof v !== 'object') rows.push([k, k, scalar(v)]);
    box.replaceChildren(...rows.map(([k, name, text]) => el('div', { class: 'kpi' }, el('dt', { text: name }),
      Array.isArray(text) ? el('dd', { 'data-testid': `kpi-${k}` }, text[0], el('small', { text: text[1] }))
        : el('dd', { 'data-testid': `kpi-${k}`, text }))));
  }

  function totalsBlock(currency, totals) {
    if (totals == null || typeof totals !== 'object') {
      return el('div', { class: 'kpi' }, el('dt', { text: currency }), el('dd', { text: money(totals, currency) }));
    }
    return el('div', { class: 'totals', 'data-testid': 'statement-currency' }, currency && el('h3', { text: currency }),
      el('dl', { class: 'facts' }, ...Object.entries(totals).flatMap(([k, v]) => [el('dt', { text: label(TOTALS, k) }),
        el('dd', { text: typeof v === 'object' ? scalar(v) : money(v, /^[A-Z]{3}$/.test(currency) ? currency : '') }),
      ])));
  }

  function renderStatement(st, slots) {
    const blocks = [];
    const { currencies, totals } = st;
    if (currencies && typeof currencies === 'object' && !Array.isArray(currencies)) {
      for (const [cur, t] of Object.entries(currencies)) blocks.push(totalsBlock(cur, t));
    } else if (totals && typeof totals === 'object') {
      const named = Array.isArray(currencies) ? currencies.join(' / ') : currencies;
      blocks.push(totalsBlock(named || '', totals));
    }
    slots.totals.replaceChildren(...(blocks.length ? blocks : [el('p', { class: 'muted', text: '本月沒有佣金' })]));
    const lines = Array.isArray(st.lines) ? st.lines : [];
    if (!lines.length) { slots.lines.replaceChildren(el('p', { class: 'muted', text: '本月沒有明細' })); return; }
    const keys = [...new Set(lines.flatMap((l) => Object.keys(l)))].filter((k) => k !== 'staff_id' && k !== 'store_id');
    keys.sort((a, b) => (a in LINE_COLUMNS ? Object.keys(LINE_COLUMNS).indexOf(a) : 99)
      - (b in LINE_COLUMNS ? Object.keys(LINE_COLUMNS).indexOf(b) : 99));
    slots.lines.replaceChildren(el('table', { class: 'grid' },
      el('thead', null, el('tr', null, ...keys.map((k) => el('th', { text: LINE_COLUMNS[k] || k })))),
      el('tbody', null, ...lines.map((l) => el('tr', { 'data-testid': 'statement-line' }, ...keys.map((k) => el('td', {
        class: ['amount', 'base'].includes(k) ? 'num' : null,
        text: ['amount', 'base'].includes(k) ? money(l[k], l.currency) : k === 'status' || k === 'kind'
          ? label(STATUS, l[k]) : k === 'source' ? label(CHANNEL, l[k]) : scalar(l[k]) })))))));
  }

  async function showPerformance(live, month) {
    S.month = month || S.month || thisMonth();
    const { frag, slots } = tpl('performance');
    slots.month.value = S.month;
    slots.month.max = thisMonth();
    slots.month.addEventListener('change', () => {
      if (/^\d{4}-\d{2}$/.test(slots.month.value)) location.hash = `#/performance/${slots.month.value}`;
    });
    mount(frag);
    const [kpis, statement] = await Promise.allSettled([api(`me/kpis?month=${enc(S.month)}`),
      api(`me/statement?month=${enc(S.month)}`)]);
    if (!live()) return;
    const problem = (r, box) => {
      if (r.reason !== SIGNED_OUT) box.replaceChildren(el('p', { class: 'error', text: errorText(r.reason) }));
    };
    if (kpis.status === 'fulfilled') renderKpis(kpis.value || {}, slots.kpis); else problem(kpis, slots.kpis);
    if (statement.status === 'fulfilled') renderStatement(statement.value || {}, slots);
    else problem(statement, slots.totals);
  }

  // ---------------------------------------------------------------- 門市收件匣 (managers)
  async function showInbox(live) {
    const data = await api('me/inbox');
    if (!live()) return;
    const { frag, slots } = tpl('inbox');
    const rows = (data.conversations || []).map((c) => el('li', null,
      el('a', { class: 'row', href: `#/customers/${enc(c.member_id)}`, 'data-testid': 'inbox-row',
        'data-member-id': c.member_id },
        el('span', { class: 'main' }, el('strong', { text: c.name || '（未留姓名）' })),
        el('span', { class: 'side' }, c.unread > 0 ? el('span', { class: 'badge', text: c.unread }) : null,
          el('small', { class: 'muted', text: when(c.last_in_at) })))));
    slots.list.replaceChildren(...rows);
    slots.empty.hidden = rows.length > 0;
    mount(frag);
  }

  // ---------------------------------------------------------------- 行銷與報表 (managers and admins)
  /* marketing.js, its styles and the chart library load only when the area opens: staff never fetch them. Their
   * hashed URLs are on this script's tag. The kit is what the area shares of this file. */
  const ASSETS = ($('script[data-marketing]') || { dataset: {} }).dataset;
  let marketingArea;
  function marketing() {
    marketingArea ||= Promise.all([loadScript(ASSETS.marketing, '行銷與報表'), loadStyle(ASSETS.marketingCss)])
      .then(() => window.omo2cMarketing({
        el, enc, when, fullDate, thisMonth, toast, mount, notice, loadScript, loadStyle, assets: ASSETS,
        keyMode: () => S.keyMode, me: () => S.me,
        lineToken: () => (S.token && !tokenExpired(S.token) ? S.token : null),
        lineSignedOut: () => signedOut(),
        lineSignIn,
        reroute: () => route(),
      }))
      .catch((error) => { marketingArea = null; throw error; });
    return marketingArea;
  }

  async function showMarketing(live, rest) {
    if (S.me.role !== 'manager') { notice(NO_ACCESS, true); return; }
    const area = await marketing();
    if (live()) await area.show(live, rest || '');
  }

  async function keyRoute() {
    stopTimers();
    const gen = ++S.gen;
    const live = () => gen === S.gen;
    const match = location.hash.match(/^#\/marketing(?:\/(.*))?$/);
    if (!match) { location.hash = '#/marketing'; return; }
    $('#tabs').hidden = true;
    try {
      const area = await marketing();
      if (live()) await area.show(live, match[1] || '');
    } catch (error) { if (live()) notice(error.message || '發生錯誤，請重新整理頁面', false); }
  }

  /** From the key form back to LINE: the local stand-in's sign-in, or LINE Login through LIFF. */
  function lineSignIn() {
    sessionStorage.removeItem(KEY_KEY);
    S.keyMode = false;
    S.gen += 1;
    history.replaceState(null, '', '#/customers');
    if (!S.config.liff_id) { showSignIn(); return; }
    liffSignIn(false).then((token) => { setToken(token); return start(); }).catch((e) => notice(e.message, false));
  }

  // ---------------------------------------------------------------- start
  async function boot() {
    window.addEventListener('hashchange', route);
    $('#signout').addEventListener('click', () => {
      if (S.keyMode) {
        stopTimers();
        S.gen += 1;
        sessionStorage.removeItem(KEY_KEY);  // marketing.js's, cleared here too in case it never loaded
        marketing().then((area) => area.signOut()).catch(() => showSignIn());
        return;
      }
      sessionStorage.removeItem(TOKEN_KEY);
      if (S.config.liff_id && window.liff && window.liff.isLoggedIn()) {
        window.liff.logout();
        location.reload();
        return;
      }
      S.token = null; S.me = null; stopTimers(); S.gen += 1;
      showSignIn();
    });
    try {
      const response = await fetch('console/config.json', { cache: 'no-store' });
      if (response.ok) S.config = { ...S.config, ...(await response.json()) };
    } catch { /* a missing config is the local run's: the development sign-in */ }
    if (S.config.brand) {
      $('#brand').textContent = `${S.config.brand} 門市小幫手`;
      document.title = `${S.config.brand} 門市小幫手`;
    }
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved && !tokenExpired(saved)) S.token = saved;
    if (sessionStorage.getItem(KEY_KEY) || (!S.token && MARKETING.test(location.hash))) {
      S.keyMode = true;
      route();
      return;
    }
    if (!S.token && !S.config.liff_id) { showSignIn(); return; }
    try {
      if (!S.token) setToken(await liffSignIn(false));
      await start();
    } catch (error) { notice(error.message || '登入失敗', false); }
  }
  boot();
})();
