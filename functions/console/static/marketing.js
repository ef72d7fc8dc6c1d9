/* 行銷與報表: a store's month as number tiles and charts, the campaigns with their status, and a campaign's report.
 * For a manager signed in with LINE, and for the admin token or an admin's or manager's API key pasted into this
 * area's own form (kept in sessionStorage only: never localStorage, never the URL).
 *
 * app.js loads this file and marketing.css when the area first opens, and the chart library (Chartist, vendored
 * in vendor/chartist) when the first chart is drawn. Server strings reach the DOM only as textContent (kit.el);
 * Chartist writes its own labels with textContent too. */
'use strict';
window.omo2cMarketing = (kit) => {
  const { el, enc, toast, when, fullDate, thisMonth } = kit;
  const KEY = 'omo2c.console.key';
  const DASH = '—';
  const NO_ACCESS = '您沒有權限查看這個頁面';
  const M = { month: '', store: '', stores: null, storesFor: null, charts: [], campaignsOpen: null };
  const $ = (sel) => document.querySelector(sel);

  // ---------------------------------------------------------------- numbers, zh-TW
  const ints = new Intl.NumberFormat('zh-TW', { maximumFractionDigits: 0 });
  const compact = new Intl.NumberFormat('zh-TW', { notation: 'compact', maximumFractionDigits: 1 });
  const percents = new Intl.NumberFormat('zh-TW', { style: 'percent', maximumFractionDigits: 1 });
  const isNum = (v) => v != null && v !== '' && typeof v !== 'boolean' && Number.isFinite(Number(v));
  const num = (v) => (isNum(v) ? Number(v) : 0);
  const count = (v) => (isNum(v) ? ints.format(Number(v)) : DASH);
  const pct = (v) => (isNum(v) ? percents.format(Number(v)) : DASH);
  const pick = (obj, path) => path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
  const label = (map, key) => map[key] || (key == null || key === '' ? DASH : String(key));
  const moneyFormats = {};
  /** An amount with its currency code: "TWD 12,345"; "76.5" keeps its cents. */
  function money(value, currency) {
    if (!isNum(value)) return DASH;
    const n = Number(value);
    const cur = /^[A-Z]{3}$/.test(currency || '') ? currency : '';
    if (!cur) return n.toLocaleString('zh-TW');
    const cents = Number.isInteger(n) ? 0 : 2;
    try {
      moneyFormats[cur + cents] ||= new Intl.NumberFormat('zh-TW', { style: 'currency', currency: cur,
        currencyDisplay: 'code', minimumFractionDigits: cents, maximumFractionDigits: 2 });
      return moneyFormats[cur + cents].format(n);
    } catch { return `${cur} ${n.toLocaleString('zh-TW')}`; }
  }
  /** {"TWD": "12345", "USD": "20"}: one line per currency; {} is nothing sold. */
  function amounts(byCurrency) {
    if (!byCurrency || typeof byCurrency !== 'object') return DASH;
    const lines = Object.entries(byCurrency).map(([cur, v]) => money(v, cur));
    return lines.length ? lines.join('\n') : '0';
  }
  const monthLabel = (ym) => {
    const m = /^(\d{4})-(\d{2})$/.exec(String(ym || ''));
    return m ? `${Number(m[2])}月` : String(ym || '');
  };

  const NAPL = [['new', '新客'], ['active', '活躍'], ['passive', '沉睡'], ['lost', '流失'], ['prospect', '潛在']];
  const STATUS = { active: '進行中', paused: '已暫停', archived: '已封存' };
  const CHANNELS = { line: 'LINE', sms: '簡訊', email: 'Email' };
  const TRIGGERS = { 'member.created': '成為會員', 'member.bound': '綁定專屬店員', 'member.tier_changed': '會員等級變動',
    'order.recorded': '消費', birthday: '生日', schedule: '排程', manual: '手動' };
  const SKIPPED = { opted_out: '已退訂', line_unreachable: 'LINE 無法送達', no_sms_consent: '未同意簡訊', no_phone: '沒有電話',
    no_email: '沒有 Email', no_email_consent: '未同意 Email', no_channel: '沒有可用管道', frequency_cap: '頻率上限',
    quiet_hours: '勿擾時段', message_too_long: '訊息過長', coupon_unavailable: '優惠券不足', failed: '失敗' };

  // ---------------------------------------------------------------- who is signed in, and the API
  class ApiError extends Error {
    constructor(status, body, refused = false) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
      this.refused = refused;  // the token itself was turned away, not the request
    }
  }
  const REJECTED = new ApiError(401, { message: '請重新登入' }, true);

  function keySession() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(KEY) || 'null');
      return saved && typeof saved.token === 'string' && saved.token ? saved : null;
    } catch { return null; }
  }
  /** {token, role, store_id, store_name}: the pasted key's, or the LINE-signed-in manager's. */
  function session() {
    if (kit.keyMode()) return keySession();
    const me = kit.me();
    return me ? { token: kit.lineToken(), role: me.role, store_id: me.store_id, store_name: me.store_name } : null;
  }

  async function call(path, { method = 'GET', accept = 'application/json', token, probe = false, blob = false } = {}) {
    const bearer = token || (session() || {}).token;
    if (!bearer) { rejected(); throw REJECTED; }
    let response;
    try {
      response = await fetch(path, { method, cache: 'no-store', headers: { Authorization: `Bearer ${bearer}`,
        Accept: accept } });
    } catch { throw new ApiError(0, { message: '網路連線失敗，請稍後再試' }); }
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      // 401, or the gateway authorizer's bare 403 ({"message": "Forbidden"}): the token was refused.
      const refused = response.status === 401 || (response.status === 403 && !data.error);
      if (refused && !probe) { rejected(); throw REJECTED; }
      throw new ApiError(response.status, data, refused);
    }
    if (blob) return response.blob();
    return response.status === 204 ? null : response.json().catch(() => null);
  }

  function errorText(error) {
    if (!(error instanceof ApiError)) return (error && error.message) || '發生錯誤';
    if (error.status === 403) return NO_ACCESS;
    if (error.status === 404) return '找不到（這項功能可能尚未開放）';
    if (error.status === 409) return `現在無法變更（${error.message}）`;
    return error.message;
  }

  function rejected() {
    if (!kit.keyMode()) { kit.lineSignedOut(); return; }
    sessionStorage.removeItem(KEY);
    showKeyForm('權杖或 API 金鑰無效、已撤銷或已過期，請重新登入');
  }

  function header(s) {
    $('#tabs').hidden = kit.keyMode() || !kit.me();
    if (!kit.keyMode()) return;
    $('#who').textContent = !s ? '' : s.role === 'admin' ? '管理者' : `店長・${s.store_id || ''}`;
    $('#signout').hidden = !s;
  }

  function reset() {
    detach();
    Object.assign(M, { store: '', stores: null, storesFor: null, campaignsOpen: null });
  }

  // ---------------------------------------------------------------- the key form (admins, managers' API keys)
  /** Who a pasted token is: the admin lists the stores; a manager's key may read its own store's numbers only. */
  async function identify(token, storeId) {
    const refusedKey = new Error('權杖或 API 金鑰無效，或已被撤銷');
    try {
      const data = await call('stores', { token, probe: true });
      return { token, role: 'admin', stores: (data && data.stores) || [] };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.refused) throw refusedKey;
      if (error.status === 404) return { token, role: 'admin', stores: null };  // no store list: type the id
      if (error.status !== 403) throw error;
    }
    if (!storeId) throw new Error('這不是管理者的權杖：店長的 API 金鑰請一併填寫門市代號');
    try {
      await call(`stores/${enc(storeId)}/kpis?month=${enc(thisMonth())}`, { token, probe: true });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.refused) throw refusedKey;
      if (error.status === 403) throw new Error(`這把金鑰不能查看門市 ${storeId}`);
      if (error.status !== 404) throw error;
    }
    return { token, role: 'manager', store_id: storeId };
  }

  function showKeyForm(message) {
    header(null);
    const error = el('p', { class: 'error', 'data-testid': 'key-error', text: message || '', hidden: !message });
    const token = el('input', { name: 'token', type: 'password', required: true, autocomplete: 'off',
      spellcheck: 'false', autocapitalize: 'off', maxlength: 400, 'data-testid': 'key-token',
      placeholder: '管理者權杖，或 omo_…' });
    const store = el('input', { name: 'store', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off',
      maxlength: 64, 'data-testid': 'key-store', placeholder: '例如 ST01' });
    const submit = el('button', { type: 'submit', 'data-testid': 'key-submit', text: '登入' });
    // POST, never GET: should a submit ever get past the handler, the key still stays out of the URL.
    const form = el('form', { class: 'stack', method: 'post', 'data-testid': 'key-form' },
      el('label', null, '權杖或 API 金鑰', token), el('label', null, '門市代號（店長的 API 金鑰才需要）', store), submit,
      error);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const pasted = token.value.trim();
      if (!pasted) return;
      submit.disabled = true;
      error.hidden = true;
      try {
        const who = await identify(pasted, store.value.trim());
        reset();
        if (who.stores) { M.stores = who.stores; M.storesFor = pasted; }
        sessionStorage.setItem(KEY, JSON.stringify({ token: who.token, role: who.role, store_id: who.store_id }));
        token.value = '';
        if (/^#\/marketing(\/|$)/.test(location.hash)) kit.reroute(); else location.hash = '#/marketing';
      } catch (problem) {
        error.textContent = problem.message || '登入失敗';
        error.hidden = false;
      } finally { submit.disabled = false; }
    });
    const line = el('button', { type: 'button', class: 'link', 'data-testid': 'key-line', text: '店長改用 LINE 登入' });
    line.addEventListener('click', () => kit.lineSignIn());
    kit.mount(el('section', { class: 'card narrow', 'data-testid': 'key-signin' },
      el('h2', { text: '行銷與報表・管理者／店長登入' }),
      el('p', { class: 'muted', text: '貼上管理者權杖，或角色為管理者或店長的 API 金鑰。只保存在這個分頁，關閉分頁或登出即清除。' }),
      form, el('p', { class: 'center' }, line)));
    token.focus();
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    reset();
    showKeyForm();
  }

  // ---------------------------------------------------------------- the area's frame and routes
  async function campaignsOpen(s) {
    if (s.role === 'admin') return true;
    if (M.campaignsOpen === null) {
      try {
        await call('campaigns');
        M.campaignsOpen = true;  // the API lets managers read them: read-only here
      } catch (error) {
        if (error === REJECTED) throw error;
        if (error instanceof ApiError && error.status === 403) M.campaignsOpen = false;
        else return false;  // ask again next time
      }
    }
    return M.campaignsOpen;
  }

  function frame(current, open, ...content) {
    const nav = el('nav', { class: 'mk-nav', 'aria-label': '行銷與報表' },
      ...[['', '報表', 'mk-nav-dashboards'], ['campaigns', '活動', 'mk-nav-campaigns']]
        .filter(([route]) => route !== 'campaigns' || open)
        .map(([route, text, testid]) => el('a', { href: `#/marketing${route ? `/${route}` : ''}`, text,
          'data-testid': testid, 'aria-current': route === current ? 'page' : null })));
    return el('section', { class: 'mk', 'data-testid': 'marketing' }, nav, ...content);
  }

  function problemBox(error) {
    return el('p', { class: 'error card', 'data-testid': 'mk-error', text: errorText(error) });
  }

  async function show(live, rest) {
    const s = session();
    if (!s || !s.token) {
      if (kit.keyMode()) showKeyForm(); else kit.lineSignedOut();
      return;
    }
    header(s);
    detach();
    const [section, ...tail] = String(rest || '').split('/');
    try {
      const open = await campaignsOpen(s);
      if (!live()) return;
      if (section === 'campaigns' && tail.length && tail[0]) await showReport(live, s, open, decodeURIComponent(tail.join('/')));
      else if (section === 'campaigns') await showCampaigns(live, s, open);
      else await showDashboard(live, s, open);
    } catch (error) {
      if (error === REJECTED || !live()) return;
      console.error(error);
      kit.mount(frame(section, M.campaignsOpen !== false, problemBox(error)));
    }
  }

  // ---------------------------------------------------------------- charts (Chartist, loaded on first use)
  let library;
  function charts() {
    library ||= Promise.all([kit.loadScript(kit.assets.chartist, '圖表元件'), kit.loadStyle(kit.assets.chartistCss)])
      .then(() => withoutInlineStyles(window.Chartist))
      .catch((error) => { library = null; throw error; });
    return library;
  }
  /** Chartist writes two `style` attributes (the svg's size, a donut's stroke width), which the console's
   * `style-src 'self'` refuses; set through the CSSOM instead, which the policy does not govern. */
  function withoutInlineStyles(Chartist) {
    const attr = Chartist.Svg.prototype.attr;
    if (attr.cspSafe) return Chartist;
    const safe = function attrThroughCssom(attributes, ns) {
      if (!attributes || typeof attributes !== 'object' || typeof attributes.style !== 'string') {
        return attr.call(this, attributes, ns);
      }
      const { style, ...rest } = attributes;
      for (const rule of style.split(';')) {
        const colon = rule.indexOf(':');
        if (colon > 0) this.getNode().style.setProperty(rule.slice(0, colon).trim(), rule.slice(colon + 1).trim());
      }
      return attr.call(this, rest, ns);
    };
    safe.cspSafe = true;
    Chartist.Svg.prototype.attr = safe;
    return Chartist;
  }
  function detach() {
    M.charts.forEach((chart) => { try { chart.detach(); } catch { /* already gone */ } });
    M.charts = [];
  }
  function draw(box, chart) {
    chart.on('created', () => { box.dataset.drawn = 'true'; });
    M.charts.push(chart);
  }
  function chartCard(id, title, legend = [], wide = false) {
    const box = el('div', { class: 'mk-chart', 'data-testid': `chart-${id}`, role: 'img', 'aria-label': title });
    const keys = legend.length ? el('ul', { class: 'mk-legend' },
      ...legend.map(([series, text]) => el('li', { class: `mk-key mk-key-${series}`, text }))) : null;
    const caption = el('p', { class: 'mk-caption', 'data-testid': `chart-${id}-caption` });
    const card = el('div', { class: `card mk-card${wide ? ' mk-wide' : ''}` }, el('h3', { text: title }), keys, box, caption);
    return { card, box, caption };
  }
  function noData(box, text = '這個月沒有資料') {
    box.classList.add('mk-empty');
    box.replaceChildren(el('p', { class: 'muted center', text }));
  }
  function donut(Chartist, box, share, centre) {
    if (!isNum(share)) { noData(box); return; }
    const part = Math.min(1, Math.max(0, Number(share)));
    box.classList.add('mk-donut');
    box.append(el('span', { class: 'mk-donut-centre', 'data-testid': `${box.dataset.testid}-value`, text: centre }));
    draw(box, new Chartist.PieChart(box, { series: [part, 1 - part] }, { donut: true, donutWidth: 22, total: 1,
      showLabel: false, height: '170px', chartPadding: 6 }));
  }

  // ---------------------------------------------------------------- 報表: a store's month
  function mainCurrency(k) {
    const seen = new Set();
    for (const part of [pick(k, 'sales.pos.amount'), pick(k, 'sales.ec_credited.amount'),
      ...(Array.isArray(k.trend) ? k.trend.flatMap((t) => [t && t.pos, t && t.ec_credited]) : [])]) {
      if (part && typeof part === 'object') Object.keys(part).forEach((cur) => seen.add(cur));
    }
    return seen.has('TWD') || !seen.size ? 'TWD' : [...seen][0];
  }

  function tile(key, name, value, note) {
    return el('div', { class: 'kpi', 'data-testid': `tile-${key}` }, el('dt', { text: name }),
      el('dd', { 'data-testid': `tile-${key}-value` }, value, note ? el('small', { text: note }) : null));
  }

  function renderTiles(k) {
    const orders = (path) => (isNum(pick(k, path)) ? `${count(pick(k, path))} 筆訂單` : null);
    const both = pick(k, 'omo_share.members_both_channels');
    const buyers = pick(k, 'omo_share.members_with_orders');
    const top = k.top20_revenue_share || {};
    return el('dl', { class: 'kpis mk-tiles', 'data-testid': 'mk-tiles' },
      tile('members-new', '新會員', count(pick(k, 'members.new'))),
      tile('members-total', '會員總數', count(pick(k, 'members.total'))),
      tile('bound', '綁定顧客', count(pick(k, 'bindings.bound_customers'))),
      tile('bindings-new', '當月新綁定', count(pick(k, 'bindings.new'))),
      tile('pos', '門市銷售', amounts(pick(k, 'sales.pos.amount')), orders('sales.pos.orders')),
      tile('ec', '網店計入業績', amounts(pick(k, 'sales.ec_credited.amount')), orders('sales.ec_credited.orders')),
      tile('omo', 'OMO 跨通路占比', pct(pick(k, 'omo_share.share')),
        isNum(both) || isNum(buyers) ? `${count(both)}／${count(buyers)} 位消費會員` : null),
      tile('top20', '前 20% 顧客營收占比', pct(top.share),
        isNum(top.buyers) ? `${count(top.buyers)} 位消費者${top.exact === false ? '・估算' : ''}` : null),
      tile('conversions', '活動轉換', count(pick(k, 'campaigns.conversions'))),
      tile('campaign-revenue', '活動營收', amounts(pick(k, 'campaigns.revenue'))));
  }

  function renderCharts(Chartist, k, grid) {
    const cur = mainCurrency(k);
    const trend = (Array.isArray(k.trend) ? k.trend : []).filter((t) => t && typeof t === 'object');
    const labels = trend.map((t) => monthLabel(t.month));
    const sales = chartCard('trend', `近六個月業績（${cur}）`, [['a', '門市 POS'], ['b', '網店計入']], true);
    const people = chartCard('trend-counts', '近六個月新會員與活動轉換', [['a', '新會員'], ['b', '活動轉換']], true);
    const napl = chartCard('napl', '顧客 NAPL 分布');
    const omo = chartCard('omo', 'OMO 跨通路占比', [['a', '門市與網店都消費'], ['rest', '單一通路']]);
    const top = chartCard('top20', '前 20% 顧客營收占比', [['a', '前 20% 顧客'], ['rest', '其餘顧客']]);
    grid.replaceChildren(sales.card, people.card, napl.card, omo.card, top.card);

    if (trend.length) {
      const pos = trend.map((t) => num(pick(t, `pos.${cur}`)));
      const ec = trend.map((t) => num(pick(t, `ec_credited.${cur}`)));
      sales.box.setAttribute('aria-label', labels.map((m, i) => `${m} 門市 ${money(pos[i], cur)}、網店 ${money(ec[i], cur)}`)
        .join('；'));
      draw(sales.box, new Chartist.BarChart(sales.box, { labels, series: [pos, ec] }, { height: '220px',
        seriesBarDistance: 13, axisX: { showGrid: false },
        axisY: { onlyInteger: true, offset: 44, labelInterpolationFnc: (v) => compact.format(v) } }));
      const members = trend.map((t) => num(t.new_members));
      const conversions = trend.map((t) => num(t.conversions));
      people.box.setAttribute('aria-label', labels.map((m, i) => `${m} 新會員 ${count(members[i])}、轉換 ${count(conversions[i])}`)
        .join('；'));
      draw(people.box, new Chartist.LineChart(people.box, { labels, series: [members, conversions] }, {
        height: '200px', low: 0, fullWidth: true, chartPadding: { right: 24 }, axisX: { showGrid: false },
        lineSmooth: Chartist.Interpolation.monotoneCubic(),  // no overshoot below zero between months
        axisY: { onlyInteger: true, offset: 36, labelInterpolationFnc: (v) => compact.format(v) } }));
    } else { noData(sales.box); noData(people.box); }

    const segments = k.napl && typeof k.napl === 'object' ? NAPL.map(([key, name]) => [name, k.napl[key]]) : [];
    if (segments.some(([, v]) => isNum(v))) {
      napl.box.setAttribute('aria-label', segments.map(([name, v]) => `${name} ${count(v)}`).join('、'));
      draw(napl.box, new Chartist.BarChart(napl.box, { labels: segments.map(([name]) => name),
        series: segments.map(([, v]) => num(v)) }, { distributeSeries: true, height: '200px',
        axisX: { showGrid: false }, axisY: { onlyInteger: true, offset: 36 } }));
      napl.caption.textContent = segments.map(([name, v]) => `${name} ${count(v)}`).join('・');
    } else noData(napl.box);

    const share = pick(k, 'omo_share.share');
    donut(Chartist, omo.box, share, pct(share));
    const both = pick(k, 'omo_share.members_both_channels');
    const buyers = pick(k, 'omo_share.members_with_orders');
    if (isNum(buyers)) omo.caption.textContent = `${count(buyers)} 位有消費的會員中，${count(both)} 位在門市與網店都買過`;
    const t20 = k.top20_revenue_share || {};
    donut(Chartist, top.box, t20.share, pct(t20.share));
    if (isNum(t20.buyers)) {
      top.caption.textContent = `${count(t20.buyers)} 位消費者中營收最高的 20%${t20.exact === false ? '（估算）' : ''}`;
    }
  }

  async function showDashboard(live, s, open) {
    M.month ||= thisMonth();
    const admin = s.role === 'admin';
    if (!admin) M.store = s.store_id || '';
    else if (M.storesFor !== s.token) {
      try { M.stores = ((await call('stores')) || {}).stores || []; } catch (error) {
        if (error === REJECTED) throw error;
        M.stores = null;  // no list to pick from: the admin types a store id
      }
      M.storesFor = s.token;
      if (!live()) return;
    }
    if (admin && M.stores && !M.stores.some((st) => st.store_id === M.store)) M.store = (M.stores[0] || {}).store_id || '';

    const body = el('div', { 'data-testid': 'mk-dashboard' });
    let seq = 0;
    const load = async () => {
      const mine = ++seq;
      detach();
      if (!M.store) {
        body.replaceChildren(el('p', { class: 'muted center card', 'data-testid': 'mk-error',
          text: admin && M.stores ? '還沒有門市：請先以 PUT /stores/{store_id} 建立門市' : '請選擇門市' }));
        return;
      }
      body.replaceChildren(el('p', { class: 'muted', text: '載入中…' }));
      let k;
      let Chartist;
      try {
        [k, Chartist] = await Promise.all([call(`stores/${enc(M.store)}/kpis?month=${enc(M.month)}`), charts()]);
      } catch (error) {
        if (error === REJECTED || !live() || mine !== seq) return;
        body.replaceChildren(problemBox(error));
        return;
      }
      if (!live() || mine !== seq) return;
      k = k || {};
      const grid = el('div', { class: 'mk-grid', 'data-testid': 'mk-charts' });
      body.replaceChildren(renderTiles(k), grid);
      renderCharts(Chartist, k, grid);
    };

    let storeField;
    if (!admin) {
      storeField = el('span', { class: 'mk-store', 'data-testid': 'mk-store-fixed',
        text: s.store_name ? `${s.store_name}（${M.store}）` : M.store || DASH });
    } else if (M.stores) {
      storeField = el('select', { 'data-testid': 'mk-store', 'aria-label': '門市' },
        ...M.stores.map((st) => el('option', { value: st.store_id, text: st.name ? `${st.name}（${st.store_id}）` : st.store_id })));
      storeField.value = M.store;
      storeField.addEventListener('change', () => { M.store = storeField.value; load(); });
    } else {
      storeField = el('input', { 'data-testid': 'mk-store', 'aria-label': '門市代號', placeholder: '門市代號',
        maxlength: 64, value: M.store, spellcheck: 'false', autocapitalize: 'off' });
      storeField.addEventListener('change', () => { M.store = storeField.value.trim(); load(); });
    }
    const month = el('input', { type: 'month', 'data-testid': 'mk-month', max: thisMonth(), value: M.month,
      'aria-label': '月份' });
    month.addEventListener('change', () => {
      if (!/^\d{4}-\d{2}$/.test(month.value)) return;
      M.month = month.value;
      load();
    });
    kit.mount(frame('', open, el('div', { class: 'toolbar mk-toolbar' },
      el('label', null, '門市', storeField), el('label', null, '月份', month)), body));
    await load();
  }

  // ---------------------------------------------------------------- 活動: the list
  const badge = (status, testid) => el('span', { class: `status status-${STATUS[status] ? status : 'unknown'}`,
    'data-testid': testid, 'data-status': status || '', text: STATUS[status] || (status ? String(status) : DASH) });
  const channelChips = (channels) => (Array.isArray(channels) ? channels : [])
    .map((c) => el('span', { class: 'chip', text: label(CHANNELS, c) }));

  function scheduleText(expression) {
    const daily = /^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$/.exec(String(expression));
    return daily ? `每天 ${daily[2].padStart(2, '0')}:${daily[1].padStart(2, '0')}` : String(expression);
  }
  function planText(c) {
    if (c.trigger && typeof c.trigger === 'object') {
      const days = Number(c.trigger.delay_days) || 0;
      return `觸發：${label(TRIGGERS, c.trigger.event)}${days ? ` 後 ${days} 天` : ' 時'}`;
    }
    if (c.schedule) return `排程：${scheduleText(c.schedule)}`;
    return '手動執行';
  }

  async function showCampaigns(live, s, open) {
    if (!open) { kit.mount(frame('campaigns', false, el('p', { class: 'muted card center', 'data-testid': 'mk-error',
      text: '活動管理僅限管理者' }))); return; }
    const data = await call('campaigns');
    if (!live()) return;
    const campaigns = ((data && data.campaigns) || []).filter((c) => c && c.campaign_id)
      .sort((a, b) => String(b.created_at || '').localeCompare(String(a.created_at || '')));
    const rows = campaigns.map((c) => el('li', null, el('a', { class: 'row', href: `#/marketing/campaigns/${enc(c.campaign_id)}`,
      'data-testid': 'campaign-row', 'data-campaign-id': c.campaign_id },
    el('span', { class: 'main' }, el('strong', { text: c.name || c.campaign_id }),
      el('small', { class: 'muted', text: planText(c) }), el('span', { class: 'chips' }, ...channelChips(c.channels))),
    el('span', { class: 'side' }, badge(c.status, 'campaign-status'),
      el('small', { class: 'muted', text: c.created_at ? `建立於 ${when(c.created_at, fullDate)}` : '' })))));
    kit.mount(frame('campaigns', open,
      s.role === 'admin' ? null : el('p', { class: 'muted', text: '唯讀：暫停、恢復活動請洽管理者。' }),
      rows.length ? el('ul', { class: 'list', 'data-testid': 'campaign-list' }, ...rows)
        : el('p', { class: 'muted center card', 'data-testid': 'campaign-empty', text: '還沒有活動' })));
  }

  // ---------------------------------------------------------------- 活動: one campaign's report
  const KPI = [['selected', '選取'], ['sent', '已送出'], ['sending', '傳送中'], ['failed', '失敗'], ['blocked', '封鎖'],
    ['clicks', '點擊'], ['bot_clicks', '機器人點擊'], ['unsubscribed', '退訂'], ['bounced', '退信'], ['complained', '垃圾信檢舉'],
    ['conversions', '轉換'], ['converted_members', '轉換會員'], ['revenue', '營收', 'money'],
    ['conversion_rate', '轉換率', 'pct'], ['repurchase_rate', '回購率', 'pct']];

  function kpiValue(kpi, key, kind, currency) {
    const value = kpi ? kpi[key] : undefined;
    return kind === 'money' ? money(value, currency) : kind === 'pct' ? pct(value) : count(value);
  }
  function skippedText(skipped) {
    if (!skipped || typeof skipped !== 'object') return DASH;
    const parts = Object.entries(skipped).filter(([, n]) => num(n) > 0)
      .map(([reason, n]) => `${label(SKIPPED, reason)} ${count(n)}`);
    return parts.length ? parts.join('・') : '0';
  }
  function channelText(run, currency) {
    if (run.channels && typeof run.channels === 'object') {
      return Object.entries(run.channels).map(([ch, kpi]) => `${label(CHANNELS, ch)}：送出 ${kpiValue(kpi, 'sent')}`
        + `・點擊 ${kpiValue(kpi, 'clicks')}・轉換 ${kpiValue(kpi, 'conversions')}・營收 ${kpiValue(kpi, 'revenue', 'money', currency)}`)
        .join('\n');
    }
    if (run.sent_by_channel && typeof run.sent_by_channel === 'object') {
      return Object.entries(run.sent_by_channel).map(([ch, n]) => `${label(CHANNELS, ch)}：送出 ${count(n)}`).join('\n');
    }
    return '';
  }

  function runsTable(runs, currency) {
    const columns = [['selected', '選取'], ['sent', '送出'], ['clicks', '點擊'], ['conversions', '轉換'],
      ['revenue', '營收', 'money']];
    const body = [];
    for (const run of runs) {
      body.push(el('tr', { class: 'mk-run', 'data-testid': 'report-run' },
        el('td', { text: run.started_at ? when(run.started_at) : DASH }), el('td', { text: label(TRIGGERS, run.trigger) }),
        ...columns.map(([key, , kind]) => el('td', { class: 'num', text: kpiValue(run, key, kind, currency) }))));
      const rates = `失敗 ${kpiValue(run, 'failed')}・轉換率 ${kpiValue(run, 'conversion_rate', 'pct')}`
        + `・回購率 ${kpiValue(run, 'repurchase_rate', 'pct')}`;
      const skipped = run.skipped && Object.keys(run.skipped).length ? `略過：${skippedText(run.skipped)}` : '';
      body.push(el('tr', { class: 'mk-run-detail' }, el('td', { colspan: columns.length + 2 },
        [rates, channelText(run, currency), skipped].filter(Boolean).join('\n'))));
    }
    return el('div', { class: 'scroll' }, el('table', { class: 'grid', 'data-testid': 'report-runs' },
      el('thead', null, el('tr', null, el('th', { text: '開始' }), el('th', { text: '觸發' }),
        ...columns.map(([, name]) => el('th', { class: 'num', text: name })))),
      el('tbody', null, ...body)));
  }

  async function downloadCsv(id, link) {
    if (link.getAttribute('aria-busy') === 'true') return;
    link.setAttribute('aria-busy', 'true');
    try {
      const blob = await call(`campaigns/${enc(id)}/report`, { accept: 'text/csv', blob: true });
      if (/json/.test(blob.type)) throw new Error('報表暫時沒有 CSV 格式');
      const url = URL.createObjectURL(blob.type ? blob : new Blob([blob], { type: 'text/csv' }));
      const save = el('a', { download: `campaign-${String(id).replace(/[^A-Za-z0-9_-]/g, '_')}-report.csv`, hidden: true });
      save.href = url;  // a blob: URL of our own making (el() lets only http(s) through)
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
      toast('已下載 CSV');
    } catch (error) {
      if (error !== REJECTED) toast(`無法下載：${errorText(error)}`, true);
    } finally { link.removeAttribute('aria-busy'); }
  }

  async function setPaused(id, pause, button) {
    button.disabled = true;
    try {
      await call(`campaigns/${enc(id)}/${pause ? 'pause' : 'resume'}`, { method: 'POST' });
      toast(pause ? '活動已暫停' : '活動已恢復');
      kit.reroute();
    } catch (error) {
      button.disabled = false;
      if (error !== REJECTED) toast(`沒有變更：${errorText(error)}`, true);
    }
  }

  async function showReport(live, s, open, id) {
    if (!open) { await showCampaigns(live, s, open); return; }
    // The admin reads the campaign itself; a manager may read the list and the report only.
    const one = s.role === 'admin' ? call(`campaigns/${enc(id)}`)
      : call('campaigns').then((data) => ((data && data.campaigns) || []).find((c) => c && c.campaign_id === id));
    const [report, campaign] = await Promise.allSettled([call(`campaigns/${enc(id)}/report`), one]);
    if (!live()) return;
    if (report.status === 'rejected') throw report.reason;
    const r = report.value || {};
    const c = campaign.status === 'fulfilled' && campaign.value ? campaign.value : {};
    const status = r.status || c.status;
    const currency = /^[A-Z]{3}$/.test(r.currency || '') ? r.currency : 'TWD';
    const totals = r.totals && typeof r.totals === 'object' ? r.totals : null;

    const actions = el('div', { class: 'mk-actions' });
    if (s.role === 'admin' && (status === 'active' || status === 'paused')) {
      const pause = status === 'active';
      const button = el('button', { type: 'button', class: pause ? 'secondary' : null,
        'data-testid': pause ? 'campaign-pause' : 'campaign-resume', text: pause ? '暫停活動' : '恢復活動' });
      button.addEventListener('click', () => setPaused(id, pause, button));
      actions.append(button);
    }
    const csv = el('a', { href: `#/marketing/campaigns/${enc(id)}`, class: 'button secondary', role: 'button',
      'data-testid': 'report-csv', text: '下載 CSV' });
    csv.addEventListener('click', (event) => { event.preventDefault(); downloadCsv(id, csv); });
    actions.append(csv);

    const head = el('div', { class: 'card' },
      el('div', { class: 'mk-title' }, el('h2', { 'data-testid': 'report-name', text: r.name || c.name || id }),
        badge(status, 'report-status')),
      el('p', { class: 'muted', text: [planText(c), c.created_at ? `建立於 ${when(c.created_at, fullDate)}` : '']
        .filter(Boolean).join('・') }),
      el('p', { class: 'chips' }, ...channelChips(c.channels)), actions);

    const funnel = chartCard('funnel', '成效漏斗（全部執行）');
    const totalsCard = el('div', { class: 'card' }, el('h3', { text: '總計' }),
      el('dl', { class: 'kpis mk-compact', 'data-testid': 'report-totals' }, ...KPI.map(([key, name, kind]) =>
        tile(`report-${key}`, name, kpiValue(totals, key, kind, currency)))),
      el('p', { class: 'muted', 'data-testid': 'report-skipped', text: `略過：${skippedText(totals && totals.skipped)}` }));
    const coupons = r.coupons && typeof r.coupons === 'object' ? r.coupons : {};
    const couponCard = el('div', { class: 'card' }, el('h3', { text: '優惠券' }),
      el('dl', { class: 'kpis mk-compact', 'data-testid': 'report-coupons' }, tile('coupons-issued', '發出', count(coupons.issued)),
        tile('coupons-redeemed', '已使用', count(coupons.redeemed)),
        tile('coupons-revenue', '帶來營收', money(coupons.revenue, currency))));
    const runs = (Array.isArray(r.runs) ? r.runs : []).filter((run) => run && typeof run === 'object')
      .sort((a, b) => String(b.started_at || '').localeCompare(String(a.started_at || '')));
    const runsCard = el('div', { class: 'card' }, el('h3', { text: `每次執行（${count(runs.length)}）` }),
      runs.length ? runsTable(runs, currency) : el('p', { class: 'muted', 'data-testid': 'report-no-runs', text: '還沒有執行過' }));

    kit.mount(frame('campaigns', open, el('p', null, el('a', { href: '#/marketing/campaigns', class: 'link', text: '‹ 活動' })),
      head, totalsCard, funnel.card, couponCard, runsCard));

    const steps = [['selected', '選取'], ['sent', '已送出'], ['clicks', '點擊'], ['conversions', '轉換']];
    if (!totals || !steps.some(([key]) => isNum(totals[key]))) { noData(funnel.box, '沒有總計資料'); return; }
    const Chartist = await charts();
    if (!live()) return;
    funnel.box.setAttribute('aria-label', steps.map(([key, name]) => `${name} ${count(totals[key])}`).join('、'));
    funnel.caption.textContent = steps.map(([key, name]) => `${name} ${count(totals[key])}`).join(' → ');
    draw(funnel.box, new Chartist.BarChart(funnel.box, { labels: steps.map(([, name]) => name),
      series: [steps.map(([key]) => num(totals[key]))] }, { horizontalBars: true, reverseData: true, height: '180px',
      chartPadding: { right: 18 }, axisY: { offset: 52, showGrid: false },
      axisX: { onlyInteger: true, labelInterpolationFnc: (v) => compact.format(v) } }));
  }

  return { show, signOut };
};
