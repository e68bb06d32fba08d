// Skalds dashboard: one module, no build step. It reads the REST API and
// follows the two event streams; every view re-renders from the API and
// patches itself from the events in between.
//
// Routes (in the URL fragment): #/ is the overview (with the charts over
// time), #/tasks/<id> a task, #/nodes/<id> a node, #/classes/<name> a
// class.
// A token may be given as #token=<token> (or appended as &token=<token>);
// it is moved to sessionStorage and removed from the address bar.

const TOKEN_KEY = 'skalds.token';
const PAGE_SIZE = 20;
const STATUSES = ['Created', 'Assigning', 'Running', 'Paused', 'Finished', 'Failed', 'Cancelled'];
// TERMINAL are the statuses a task is retried from; the API refuses a
// retry of any other with 409.
const TERMINAL = ['Finished', 'Failed', 'Cancelled'];

// ---- token and API ----

function takeTokenFromFragment() {
  const parts = location.hash.replace(/^#/, '').split('&');
  const rest = [];
  let found = false;
  for (const p of parts) {
    const m = p.match(/^(?:access_)?token=(.*)$/);
    if (m) {
      sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
      found = true;
    } else if (p) {
      rest.push(p);
    }
  }
  if (found) history.replaceState(null, '', location.pathname + location.search + '#' + (rest.join('&') || '/'));
}

const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

class APIError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, { method = 'GET', body } = {}, retried = false) {
  const headers = {};
  if (token()) headers.Authorization = 'Bearer ' + token();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (res.status === 401 && !retried) {
    const t = prompt('This controller needs an API token:', '');
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t.trim());
      events.restart();
      return api(path, { method, body }, true);
    }
  }
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

// ---- event streams ----

// events keeps one EventSource per stream for the whole page and fans the
// messages out to the current view's listeners.
const events = {
  sources: {},
  listeners: new Set(),
  open: {},
  start() {
    for (const name of ['tasks', 'skalds']) this.connect(name);
  },
  // session asks the API, with the token as a bearer, for the HttpOnly
  // cookie that opens the streams: the token never goes in their URL.
  // Both streams share one request.
  session: null,
  async connect(name) {
    if (token()) {
      this.session ??= api('/api/events/session', { method: 'POST' }).finally(() => { setTimeout(() => { this.session = null; }, 1000); });
      try { await this.session; } catch { /* the stream's 401 retries below */ }
    }
    const es = new EventSource(`/api/events/${name}`);
    this.sources[name] = es;
    es.onopen = () => { this.open[name] = true; this.status(); };
    es.onerror = () => {
      this.open[name] = false;
      this.status();
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error such as 401): retry later.
        setTimeout(() => { if (this.sources[name] === es) this.connect(name); }, 3000);
      }
    };
    es.onmessage = (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      msg.stream = name;
      for (const fn of this.listeners) fn(msg);
    };
  },
  restart() {
    for (const es of Object.values(this.sources)) es.close();
    this.start();
  },
  status() {
    const el = document.getElementById('conn');
    const up = Object.values(this.open).filter(Boolean).length;
    el.textContent = up === 2 ? 'live' : 'reconnecting';
    el.className = 'conn ' + (up === 2 ? 'live' : 'down');
  },
};

// ---- DOM helpers ----

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const badge = (s) => h('span', { class: 'badge ' + (s || '') }, s || '-');
const when = (ms) => (ms ? new Date(ms).toLocaleString() : '-');
const ago = (ms) => {
  if (!ms) return '-';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

// A worker beats every 3 s and a beat lasts 8 s in Redis: a beat older
// than that means the worker has stopped beating.
const STALE_MS = 8000;
// beatAge renders the age of a task's last beat, red once stale.
function beatAge(ms) {
  if (!ms) return h('span', { class: 'muted beat' }, 'no beat');
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  const txt = s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  const stale = Date.now() - ms > STALE_MS;
  return h('span', { class: 'beat' + (stale ? ' stale' : ''), title: stale ? 'no beat for longer than a beat lasts: the worker may have stopped' : '' },
    'last beat ' + txt);
}
// runTime is how long the task has run under its current assignment: up
// to now while it has not ended, up to its last write once it has.
function runTime(t) {
  const end = TERMINAL.includes(t.lifecycleStatus) ? t.updateDateTime : Date.now();
  const s = Math.max(0, Math.round((end - t.assignedDateTime) / 1000));
  const d = s < 120 ? `${s} s` : s < 7200 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return TERMINAL.includes(t.lifecycleStatus) ? `ran ${d}` : `running for ${d}`;
}
const unservedNote = (t) => h('span', { class: 'badge Failed unserved', title: `No online node serves class ${t.className}: the task waits until one does.` }, 'no node serves ' + t.className);

function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

function showError(container, err) {
  container.replaceChildren(h('p', { class: 'msg bad' }, err.message || String(err)));
}

// ---- router ----

let view = null; // { listener, dispose }

function route() {
  if (view) {
    events.listeners.delete(view.listener);
    view.dispose?.();
    view = null;
  }
  const app = document.getElementById('app');
  const path = location.hash.replace(/^#/, '').split('&')[0] || '/';
  const m = path.match(/^\/(tasks|nodes|classes)\/(.+)$/);
  const pages = { tasks: taskView, nodes: nodeView, classes: classView };
  view = m ? pages[m[1]](app, decodeURIComponent(m[2])) : overview(app);
  events.listeners.add(view.listener);
}

// ---- overview ----

function overview(app) {
  const cards = h('div', { class: 'cards', id: 'summary' });
  const nodesBody = h('tbody');
  const tasksBody = h('tbody');
  // One box searches ids, classes, nodes and statuses (the API's ?q=).
  const idIn = h('input', { type: 'search', placeholder: 'search id, class, node, status', id: 'f-search', size: 28 });
  const classIn = h('select', { id: 'f-class' }, h('option', { value: '' }, 'all classes'));
  const statusIn = h('select', { id: 'f-status' }, h('option', { value: '' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s }, s)));
  const pageInfo = h('span', { class: 'muted' });
  const prev = h('button', { class: 'secondary', onclick: () => { page--; loadTasks(); } }, '‹ prev');
  const next = h('button', { class: 'secondary', onclick: () => { page++; loadTasks(); } }, 'next ›');
  let page = 1;
  let rows = new Map(); // task id -> row

  const chartsBox = h('div', { id: 'charts-box' });
  app.replaceChildren(
    h('section', {}, cards),
    chartsBox,
    h('h2', {}, 'Nodes'),
    h('section', { class: 'panel' }, h('table', { id: 'nodes' },
      h('thead', {}, h('tr', {}, ['Node', 'Type', 'Status', 'Classes', 'Running tasks', 'Last activity'].map((t) => h('th', {}, t)))),
      nodesBody)),
    h('h2', {}, 'Tasks'),
    h('section', { class: 'panel' },
      h('div', { class: 'filters' }, idIn, classIn, statusIn),
      h('table', { id: 'tasks' },
        h('thead', {}, h('tr', {}, ['Task', 'Class', 'Status', 'Executor', 'Priority', 'Attachments (applied/latest)', 'Attempts', 'Updated']
          .map((t, i) => h('th', { class: i === 4 || i === 6 ? 'num' : '' }, t)))),
        tasksBody),
      h('div', { class: 'pager' }, prev, next, pageInfo)),
  );

  async function loadSummary() {
    try {
      const s = await api('/api/system/dashboard/summary');
      const card = (n, l, id) => h('div', { class: 'card', id }, h('div', { class: 'n' }, n), h('div', { class: 'l' }, l));
      cards.replaceChildren(
        card(`${s.onlineSkalds}/${s.totalSkalds}`, 'nodes online', 'c-nodes'),
        card(s.totalTasks, 'tasks', 'c-total'),
        ...STATUSES.map((st) => card(s[st.toLowerCase() + 'Tasks'] ?? 0, st, 'c-' + st.toLowerCase())),
      );
    } catch (e) { showError(cards, e); }
  }

  async function loadNodes() {
    try {
      const res = await api('/api/skalds/');
      nodesBody.replaceChildren(...res.items.map((n) => h('tr', { dataset: { node: n.id } },
        h('td', {}, nodeLink(n.id)), h('td', {}, n.type), h('td', {}, badge(n.status)),
        h('td', {}, links(n.supportedTasks, classLink), (n.schemaConflicts || []).length ? [' ', h('span', {
          class: 'badge Failed schema-conflict',
          title: 'Other online nodes publish a different schema for these classes; attachments must satisfy all of them.',
        }, 'schema conflict: ' + n.schemaConflicts.join(', '))] : []),
        h('td', {}, links(n.currentTasks, taskLink)),
        h('td', {}, ago(n.lastHeartbeat)))));
      if (!res.items.length) nodesBody.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No node in the registry.')));
    } catch (e) { showError(nodesBody, e); }
  }

  async function loadClasses() {
    try {
      const names = await api('/api/tasks/classnames');
      const cur = classIn.value;
      classIn.replaceChildren(h('option', { value: '' }, 'all classes'), ...names.map((n) => h('option', { value: n }, n)));
      classIn.value = cur;
    } catch { /* the filter keeps its options */ }
  }

  function taskRow(t) {
    return h('tr', { dataset: { task: t.id } },
      h('td', {}, taskLink(t.id)),
      h('td', {}, classLink(t.className)), h('td', { class: 'status' }, badge(t.lifecycleStatus), t.unserved ? [' ', unservedNote(t)] : []),
      h('td', { class: 'executor' }, t.executor ? nodeLink(t.executor) : '-'), h('td', { class: 'num' }, t.priority),
      h('td', { class: 'versions' }, `${t.appliedAttachmentsVersion}/${t.attachmentsVersion}`),
      h('td', { class: 'num attempts' }, t.attempts), h('td', { class: 'updated' }, when(t.updateDateTime)));
  }

  async function loadTasks() {
    page = Math.max(1, page);
    const q = new URLSearchParams({ page, pageSize: PAGE_SIZE });
    if (idIn.value.trim()) q.set('q', idIn.value.trim());
    if (classIn.value) q.set('className', classIn.value);
    if (statusIn.value) q.set('lifecycleStatus', statusIn.value);
    try {
      const res = await api('/api/tasks/?' + q);
      rows = new Map();
      tasksBody.replaceChildren(...res.items.map((t) => { const r = taskRow(t); rows.set(t.id, r); return r; }));
      if (!res.items.length) tasksBody.replaceChildren(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No task matches.')));
      const pages = Math.max(1, Math.ceil(res.total / PAGE_SIZE));
      pageInfo.textContent = `page ${res.page} of ${pages}, ${res.total} tasks`;
      prev.disabled = res.page <= 1;
      next.disabled = res.page >= pages;
    } catch (e) { showError(tasksBody, e); }
  }

  const reloadTasks = debounce(loadTasks, 700);
  const reloadSummary = debounce(loadSummary, 500);
  const reloadNodes = debounce(loadNodes, 500);
  idIn.addEventListener('input', debounce(() => { page = 1; loadTasks(); }, 300));
  classIn.addEventListener('change', () => { page = 1; loadTasks(); });
  statusIn.addEventListener('change', () => { page = 1; loadTasks(); });

  loadSummary(); loadNodes(); loadClasses(); loadTasks();
  const refresh = setInterval(loadNodes, 10000); // keeps "last activity" current
  const charts = systemCharts(chartsBox);

  return {
    dispose: () => { clearInterval(refresh); charts.stop(); },
    listener(msg) {
      if (msg.type === 'resync') { loadSummary(); loadNodes(); loadTasks(); return; }
      if (msg.stream === 'skalds') {
        if (msg.type === 'skald_status' || msg.type === 'skald_heartbeat') { reloadNodes(); reloadSummary(); }
        // Whether a task's class is served changes with the nodes.
        if (msg.type === 'skald_status') reloadTasks();
        return;
      }
      if (msg.type !== 'task_update') return;
      reloadSummary();
      const row = rows.get(msg.taskId);
      if (!row) { reloadTasks(); return; }
      const d = msg.data;
      if (statusIn.value && d.lifecycleStatus !== statusIn.value) { reloadTasks(); return; }
      const flag = row.querySelector('.unserved');
      row.querySelector('.status').replaceChildren(badge(d.lifecycleStatus),
        flag && !TERMINAL.includes(d.lifecycleStatus) ? [' ', flag] : []);
      row.querySelector('.executor').replaceChildren(d.executor ? nodeLink(d.executor) : '-');
      row.querySelector('.versions').textContent = `${d.appliedAttachmentsVersion}/${d.attachmentsVersion}`;
      row.querySelector('.attempts').textContent = d.attempts;
      row.querySelector('.updated').textContent = when(d.updateDateTime);
      row.classList.remove('flash'); void row.offsetWidth; row.classList.add('flash');
    },
  };
}

// ---- links ----

const taskLink = (id) => h('a', { href: '#/tasks/' + encodeURIComponent(id), class: 'task-link' }, id);
const nodeLink = (id) => h('a', { href: '#/nodes/' + encodeURIComponent(id), class: 'node-link' }, id);
const classLink = (name) => h('a', { href: '#/classes/' + encodeURIComponent(name), class: 'class-link' }, name);
// links renders a list of names as links, comma-separated, or '-'.
const links = (names, link) => (names.length ? names.map((n, i) => [i ? ', ' : '', link(n)]) : '-');
// fact is one term and its value in a dl.facts, the value's element
// with the given id, for tests and for live patches.
const fact = (k, v, id) => [h('dt', {}, k), h('dd', { id }, v)];

// pager returns the prev/next buttons and the page line of a paged table;
// load(page) is called with the page to show.
function pager(load) {
  const info = h('span', { class: 'muted' });
  let page = 1;
  const prev = h('button', { class: 'secondary', onclick: () => load(--page) }, '‹ prev');
  const next = h('button', { class: 'secondary', onclick: () => load(++page) }, 'next ›');
  return {
    el: h('div', { class: 'pager' }, prev, next, info),
    get page() { return page; },
    set page(p) { page = Math.max(1, p); },
    show(res, size, what) {
      const pages = Math.max(1, Math.ceil(res.total / size));
      info.textContent = `page ${res.page} of ${pages}, ${res.total} ${what}`;
      prev.disabled = res.page <= 1;
      next.disabled = res.page >= pages;
    },
  };
}

// ---- node page ----

// nodeView shows one node: its status, mode and heartbeat age, its
// capacity and how much of it is used, the classes it serves and their
// limits, and its tasks: those MongoDB assigns to it and those it lists
// as running (the two differ for up to one beat).
function nodeView(app, id) {
  const path = '/api/skalds/' + encodeURIComponent(id);
  const facts = h('dl', { class: 'facts', id: 'node-facts' });
  const classesBody = h('tbody');
  const tasksBody = h('tbody');
  const problem = h('p', { class: 'msg bad', id: 'node-error', hidden: true });
  app.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '‹ overview')),
    h('h2', {}, 'Node ', h('code', { id: 'node-id' }, id)),
    problem,
    h('div', { class: 'two' },
      h('section', { class: 'panel' }, facts),
      h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'Classes'),
        h('table', { id: 'node-classes' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Class'), h('th', { class: 'num' }, 'Running here'), h('th', { class: 'num' }, 'Limit'))),
          classesBody))),
    h('h2', {}, 'Tasks'),
    h('section', { class: 'panel' }, h('table', { id: 'node-tasks' },
      h('thead', {}, h('tr', {}, ['Task', 'Class', 'Status', 'Assigned', 'Listed by the node'].map((t) => h('th', {}, t)))),
      tasksBody)),
  );
  // The node's heartbeat age is measured on the controller's clock; the
  // page keeps it growing between reads. Past the controller's node
  // timeout the node counts as offline.
  let beatAt = 0;
  let online = false;
  let timeoutMs = 10000;
  let known = new Set(); // the tasks on the page
  api('/api/system/config').then((c) => { timeoutMs = (c.monitoring?.heartbeatTimeout || 10) * 1000; }).catch(() => {});
  const nodeBeat = () => {
    const s = Math.max(0, Math.round((Date.now() - beatAt) / 1000));
    const stale = !online || Date.now() - beatAt > timeoutMs;
    return h('span', { class: 'beat' + (stale ? ' stale' : ''), title: stale ? 'the node has not beaten within the node timeout: it counts as offline' : '' },
      `last beat ${s} s ago`);
  };

  async function load() {
    let n; let st; let assigned;
    try {
      [n, st, assigned] = await Promise.all([api(path), api(path + '/status'), api(path + '/tasks')]);
    } catch (e) {
      problem.hidden = false;
      problem.textContent = e.message;
      return;
    }
    problem.hidden = true;
    online = n.status === 'online';
    beatAt = Date.now() - st.details.lastHeartbeatAge;
    const listed = st.details.tasks || [];
    const cap = st.details.capacity || {};
    const limits = cap.classLimits || {};
    facts.replaceChildren(
      ...fact('Status', badge(n.status), 'node-status'),
      ...fact('Mode', n.type, 'node-mode'),
      ...fact('Heartbeat', nodeBeat(), 'node-beat'),
      ...fact('Accepts tasks', st.details.canAcceptTasks ? 'yes' : 'no', 'node-accepts'),
      ...fact('Capacity', cap.maxTasks
        ? [h('meter', { min: 0, max: cap.maxTasks, value: listed.length, id: 'node-meter' }), ` ${listed.length} of ${cap.maxTasks} tasks`]
        : `${listed.length} tasks, no limit`, 'node-capacity'),
      ...((n.schemaConflicts || []).length ? fact('Schema conflicts', h('span', { class: 'badge Failed schema-conflict' }, n.schemaConflicts.join(', ')), 'node-conflicts') : []),
    );
    const running = {};
    for (const t of listed) running[t.className] = (running[t.className] || 0) + 1;
    const classes = [...new Set([...n.supportedTasks, ...Object.keys(limits), ...Object.keys(running)])].sort();
    classesBody.replaceChildren(...classes.map((c) => h('tr', { dataset: { class: c } },
      h('td', {}, classLink(c)), h('td', { class: 'num' }, running[c] || 0), h('td', { class: 'num' }, limits[c] || '-'))));
    if (!classes.length) classesBody.replaceChildren(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'The node registered no class.')));
    // Assigned in MongoDB and listed by the node, merged by id.
    const rows = new Map();
    for (const t of assigned.tasks) rows.set(t.id, { ...t, listed: false });
    for (const t of listed) rows.set(t.id, { id: t.id, className: t.className, ...rows.get(t.id), listed: true });
    known = new Set(rows.keys());
    tasksBody.replaceChildren(...[...rows.values()].sort((a, b) => a.id.localeCompare(b.id)).map((t) => h('tr', { dataset: { task: t.id } },
      h('td', {}, taskLink(t.id)), h('td', {}, classLink(t.className)), h('td', {}, t.lifecycleStatus ? badge(t.lifecycleStatus) : '-'),
      h('td', {}, when(t.assignedAt)), h('td', { class: 'listed' }, t.listed ? 'yes' : 'not yet'))));
    if (!rows.size) tasksBody.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No task assigned to this node.')));
  }

  load();
  const reload = debounce(load, 300);
  const tick = setInterval(() => { if (beatAt) document.getElementById('node-beat')?.replaceChildren(nodeBeat()); }, 1000);
  return {
    dispose: () => clearInterval(tick),
    listener(msg) {
      if (msg.type === 'resync' || (msg.stream === 'skalds' && msg.skaldId === id)) { reload(); return; }
      if (msg.type === 'task_update' && (known.has(msg.taskId) || msg.data?.executor === id)) reload();
    },
  };
}

// ---- class page ----

// classView shows one class: who serves it, its attachments schemas (and,
// when nodes publish them, its progress and result schemas), its tasks by
// status and a table of its tasks.
function classView(app, name) {
  const facts = h('dl', { class: 'facts', id: 'class-facts' });
  const counts = h('div', { class: 'cards', id: 'class-counts' });
  const nodesBody = h('tbody');
  const schemas = h('div', { id: 'class-schemas' });
  const reports = h('div', { id: 'class-reports' });
  const tasksBody = h('tbody');
  const problem = h('p', { class: 'msg bad', id: 'class-error', hidden: true });
  const statusIn = h('select', { id: 'class-status' }, h('option', { value: '' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s }, s)));
  const pages = pager(() => loadTasks());
  let rows = new Set();
  app.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '‹ overview')),
    h('h2', {}, 'Class ', h('code', { id: 'class-name' }, name)),
    problem,
    h('section', {}, counts),
    h('div', { class: 'two' },
      h('section', { class: 'panel' }, facts, h('h2', {}, 'Nodes'), h('table', { id: 'class-nodes' },
        h('thead', {}, h('tr', {}, ['Node', 'Type', 'Status', 'Running', 'Class limit', 'Max tasks'].map((t, i) => h('th', { class: i > 2 ? 'num' : '' }, t)))),
        nodesBody)),
      h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'Attachments schema'), schemas, reports)),
    h('h2', {}, 'Tasks'),
    h('section', { class: 'panel' }, h('div', { class: 'filters' }, statusIn),
      h('table', { id: 'class-tasks' },
        h('thead', {}, h('tr', {}, ['Task', 'Status', 'Executor', 'Priority', 'Attempts', 'Updated'].map((t, i) => h('th', { class: i === 3 || i === 4 ? 'num' : '' }, t)))),
        tasksBody),
      pages.el),
  );

  async function load() {
    let c;
    try {
      c = await api('/api/classes/' + encodeURIComponent(name));
    } catch (e) {
      problem.hidden = false;
      problem.textContent = e.message;
      return;
    }
    problem.hidden = true;
    const online = c.registered.filter((n) => n.online);
    facts.replaceChildren(
      ...fact('Served by', c.unserved
        ? h('span', { class: 'badge Failed unserved' }, 'no online node: its tasks wait')
        : `${online.length} online node${online.length === 1 ? '' : 's'}`, 'class-served'),
      ...fact('Tasks', String(c.totalTasks), 'class-total'),
      ...(c.schemaConflict ? fact('Schemas', h('span', { class: 'badge Failed schema-conflict' }, `${c.schemas.length} different schemas: attachments must satisfy all of them`), 'class-conflict') : []),
    );
    counts.replaceChildren(...STATUSES.map((st) => h('button', {
      class: 'card' + (statusIn.value === st ? ' picked' : ''), id: 'cc-' + st.toLowerCase(), type: 'button', title: 'show the tasks ' + st,
      onclick: () => { statusIn.value = statusIn.value === st ? '' : st; pages.page = 1; loadTasks(); load(); },
    }, h('div', { class: 'n' }, c.tasks[st] ?? 0), h('div', { class: 'l' }, st))));
    nodesBody.replaceChildren(...c.registered.map((n) => h('tr', { dataset: { node: n.id } },
      h('td', {}, nodeLink(n.id)), h('td', {}, n.type), h('td', {}, badge(n.online ? 'online' : 'offline')),
      h('td', { class: 'num' }, n.running), h('td', { class: 'num' }, n.classLimit ?? '-'), h('td', { class: 'num' }, n.maxTasks ?? '-'))));
    if (!c.registered.length) nodesBody.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No node in the registry registered this class.')));
    schemas.replaceChildren(...(c.schemas.length ? c.schemas.map((s) => h('div', { class: 'schema' },
      h('p', { class: 'muted' }, 'Published by ', links(s.nodes, nodeLink)),
      s.error ? h('p', { class: 'msg bad' }, s.error) : schemaView(s.schema)))
      : [h('p', { class: 'muted' }, 'No online node publishes a schema for this class: attachments are accepted unchecked, and the node checks them when it runs the task.')]));
    reports.replaceChildren(
      ...(c.progressSchema ? [h('h2', {}, 'Progress schema'), schemaView(c.progressSchema, 'class-progress-schema')] : []),
      ...(c.resultSchema ? [h('h2', {}, 'Result schema'), schemaView(c.resultSchema, 'class-result-schema')] : []),
      ...(c.problems || []).map((p) => h('p', { class: 'msg bad' }, p)),
    );
  }

  async function loadTasks() {
    const q = new URLSearchParams({ class: name, page: pages.page, pageSize: PAGE_SIZE });
    if (statusIn.value) q.set('lifecycleStatus', statusIn.value);
    try {
      const res = await api('/api/tasks/?' + q);
      rows = new Set(res.items.map((t) => t.id));
      tasksBody.replaceChildren(...res.items.map((t) => h('tr', { dataset: { task: t.id } },
        h('td', {}, taskLink(t.id)), h('td', {}, badge(t.lifecycleStatus), t.unserved ? [' ', unservedNote(t)] : []),
        h('td', {}, t.executor ? nodeLink(t.executor) : '-'), h('td', { class: 'num' }, t.priority),
        h('td', { class: 'num' }, t.attempts), h('td', {}, when(t.updateDateTime)))));
      if (!res.items.length) tasksBody.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No task of this class matches.')));
      pages.show(res, PAGE_SIZE, 'tasks');
    } catch (e) { showError(tasksBody, e); }
  }

  statusIn.addEventListener('change', () => { pages.page = 1; loadTasks(); load(); });
  load();
  loadTasks();
  const reload = debounce(() => { load(); loadTasks(); }, 500);
  return {
    listener(msg) {
      if (msg.type === 'resync' || (msg.stream === 'skalds' && msg.type === 'skald_status')) { reload(); return; }
      // A task of the class that changed, or a new one: the counts move.
      if (msg.type === 'task_update' && (rows.has(msg.taskId) || msg.data?.lifecycleStatus === 'Created')) reload();
    },
  };
}

// schemaView renders a JSON Schema as a table of its top-level fields
// (type, whether required, constraints, description), with the document
// itself folded below. Nodes publish these documents: one that is odd
// (keywords of the wrong types, $refs that loop) still shows, as its
// JSON, and values are only ever text.
function schemaView(doc, id) {
  const obj = (x) => (x && typeof x === 'object' && !Array.isArray(x) ? x : {});
  const text = (x) => (typeof x === 'string' ? x : x === undefined ? '' : JSON.stringify(x));
  const root = obj(resolve(doc, doc));
  const req = new Set(Array.isArray(root.required) ? root.required : []);
  const props = Object.entries(obj(root.properties));
  const constraint = (s) => ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'format', 'enum', 'default']
    .filter((k) => s[k] !== undefined).map((k) => `${k} ${text(s[k])}`).join(', ');
  const table = props.length ? h('table', { class: 'schema-fields' },
    h('thead', {}, h('tr', {}, ['Field', 'Type', 'Required', 'Constraints', 'Description'].map((t) => h('th', {}, t)))),
    h('tbody', {}, props.map(([k, v]) => {
      const s = obj(resolve(v, doc));
      const type = Array.isArray(s.type) ? s.type.map(text).join(' or ') : text(s.type) || (s.properties ? 'object' : 'any');
      return h('tr', { dataset: { field: k } }, h('td', {}, h('code', {}, k)), h('td', {}, type),
        h('td', {}, req.has(k) ? 'yes' : ''), h('td', { class: 'muted' }, constraint(s)), h('td', {}, text(s.title || s.description)));
    }))) : h('p', { class: 'muted' }, text(root.title || root.description) || 'A schema without named fields.');
  return h('div', { class: 'schema-view', id }, table,
    h('details', {}, h('summary', {}, 'JSON Schema'), h('pre', { class: 'raw' }, JSON.stringify(doc, null, 2))));
}

// ---- charts over time ----

// CHARTS are the small charts of the overview, drawn from GET
// /api/system/charts: each series reads one number of a sample, null for
// none.
const CHARTS = [
  { id: 'chart-tasks', title: 'Tasks by status', series: ['Created', 'Assigning', 'Running', 'Paused'].map((s) => ({ key: s, get: (x) => x.tasks?.[s] ?? null })) },
  { id: 'chart-ended', title: 'Tasks ended, per interval', series: TERMINAL.map((s) => ({ key: s, get: (x) => x.ended?.[s] ?? null })) },
  { id: 'chart-updates', title: 'Updates per interval', series: [
    { key: 'applied', get: (x) => x.updatesApplied }, { key: 'rejected', get: (x) => x.updatesRejected }] },
  { id: 'chart-dispatch', title: 'Dispatch latency (ms)', series: [
    { key: 'p50', get: (x) => x.dispatchP50Ms }, { key: 'p99', get: (x) => x.dispatchP99Ms }] },
];

// systemCharts appends the charts to container and keeps them current:
// it reads every sample once, then only the newer ones, once per sample
// interval (between 1 s and 10 s). stop ends the reading.
function systemCharts(container) {
  const grid = h('div', { class: 'charts', id: 'charts' });
  const note = h('p', { class: 'muted', id: 'charts-note' }, 'Loading the charts…');
  container.append(h('h2', {}, 'Over time'), h('section', { class: 'panel' }, note, grid));
  let samples = [];
  let timer = null;
  let stopped = false;
  const span = (s) => (s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`);
  async function poll() {
    let every = 10000;
    try {
      const since = samples.length ? samples[samples.length - 1].at : 0;
      const res = await api('/api/system/charts' + (since ? '?since=' + since : ''));
      every = Math.min(10000, Math.max(1000, res.interval * 1000));
      samples = samples.concat(res.samples).slice(-res.capacity);
      note.textContent = `One sample every ${span(res.interval)}, kept for ${span(res.window)}; ${samples.length} so far.` +
        (res.dispatching ? '' : ' This controller does not dispatch, so it measures no dispatch latency.');
      grid.replaceChildren(...CHARTS.map((c) => lineChart(c, samples)));
    } catch (e) { note.textContent = 'Reading the charts failed (' + e.message + '); retrying…'; }
    if (!stopped) timer = setTimeout(poll, every);
  }
  poll();
  return { stop: () => { stopped = true; clearTimeout(timer); } };
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

// niceTop rounds a chart's largest value up to 1, 2 or 5 times a power
// of ten, so that its scale reads easily.
function niceTop(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= v);
}

// lineChart draws one chart as an inline SVG: a line per series over the
// samples' times (broken where a value is null), the scale, the time span
// and a legend with each series' latest value.
function lineChart(c, samples) {
  const W = 320; const H = 120; const L = 36; const R = 6; const T = 8; const B = 18;
  const t0 = samples.length ? samples[0].at : 0;
  const t1 = samples.length ? samples[samples.length - 1].at : 0;
  let top = 0;
  for (const s of c.series) for (const x of samples) top = Math.max(top, s.get(x) ?? 0);
  top = niceTop(top);
  const X = (at) => (L + (t1 > t0 ? (at - t0) / (t1 - t0) : 1) * (W - L - R)).toFixed(1);
  const Y = (v) => (T + (1 - v / top) * (H - T - B)).toFixed(1);
  const time = (ms) => new Date(ms).toLocaleTimeString();
  const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', id: c.id, role: 'img', 'aria-label': c.title, 'data-samples': samples.length },
    svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }),
    svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }),
    svg('text', { x: L - 4, y: T + 8, class: 'tick', 'text-anchor': 'end' }, String(top)),
    svg('text', { x: L - 4, y: H - B, class: 'tick', 'text-anchor': 'end' }, '0'),
    ...(samples.length ? [svg('text', { x: L, y: H - 4, class: 'tick' }, time(t0)), svg('text', { x: W - R, y: H - 4, class: 'tick', 'text-anchor': 'end' }, time(t1))] : []));
  const legend = h('div', { class: 'legend', id: c.id + '-legend' });
  for (const s of c.series) {
    const cls = 'series s-' + s.key;
    let run = [];
    const flush = () => {
      if (run.length > 1) plot.append(svg('polyline', { points: run.join(' '), class: cls, 'data-series': s.key }));
      else if (run.length === 1) plot.append(svg('circle', { cx: run[0].split(',')[0], cy: run[0].split(',')[1], r: 1.8, class: cls, 'data-series': s.key }));
      run = [];
    };
    let last = null;
    for (const x of samples) {
      const v = s.get(x);
      if (v === null || v === undefined) { flush(); continue; }
      run.push(`${X(x.at)},${Y(v)}`);
      last = v;
    }
    flush();
    legend.append(h('span', { class: 'key s-' + s.key, dataset: { series: s.key } }, `${s.key} ${last === null ? '-' : Math.round(last * 10) / 10}`));
  }
  return h('figure', { class: 'chart-box' }, h('figcaption', {}, c.title), plot, legend);
}

// ---- JSON Schema form ----

// resolve follows a local $ref ("#/$defs/x"); others are left as they are.
function resolve(s, root) {
  for (let i = 0; s && typeof s.$ref === 'string' && s.$ref.startsWith('#/') && i < 16; i++) {
    s = s.$ref.slice(2).split('/').reduce((o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], root);
  }
  return s || {};
}

function typeOf(s) {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t) return t;
  if (s.properties) return 'object';
  return undefined;
}

const pathOf = (parent, key) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`);

// buildField returns { el, get } for the value at path: el is the input
// (wrapped with its label and error slot), get() reads it back, or
// returns undefined to leave an optional field out.
function buildField(s, root, path, name, value, required) {
  s = resolve(s, root);
  const t = typeOf(s);
  const title = s.title || name;
  const hint = [s.description, s.format && `format: ${s.format}`,
    s.minimum !== undefined && `min ${s.minimum}`, s.maximum !== undefined && `max ${s.maximum}`].filter(Boolean).join(' · ');
  const wrap = (input, get) => {
    const id = 'fld-' + path.replace(/[^A-Za-z0-9_-]/g, '_');
    input.id = id;
    input.dataset.path = path;
    const el = h('div', { class: 'field', dataset: { path } },
      h('label', { for: id }, title, required ? ' *' : ''), input,
      hint ? h('div', { class: 'hint' }, hint) : null, h('div', { class: 'err' }));
    return { el, get };
  };
  if (t === 'object' && s.properties && path !== '$') {
    const sub = buildObject(s, root, path, value || {});
    const fs = h('fieldset', { class: 'field', dataset: { path } }, h('legend', {}, title), sub.el, h('div', { class: 'err' }));
    return { el: fs, get: sub.get };
  }
  if (Array.isArray(s.enum)) {
    const sel = h('select', {}, required ? null : h('option', { value: '' }, '—'),
      s.enum.map((v, i) => h('option', { value: String(i), selected: JSON.stringify(v) === JSON.stringify(value) }, String(v))));
    return wrap(sel, () => (sel.value === '' ? undefined : s.enum[Number(sel.value)]));
  }
  switch (t) {
    case 'boolean': {
      const cb = h('input', { type: 'checkbox', checked: value === true });
      return wrap(cb, () => cb.checked);
    }
    case 'integer':
    case 'number': {
      const inp = h('input', { type: 'number', step: t === 'integer' ? '1' : 'any', value: value ?? '' });
      if (s.minimum !== undefined) inp.min = s.minimum;
      if (s.maximum !== undefined) inp.max = s.maximum;
      return wrap(inp, () => {
        const v = inp.value.trim();
        if (v === '') return required ? null : undefined;
        const n = Number(v);
        return Number.isFinite(n) ? n : v; // the server names a non-number
      });
    }
    case 'string': {
      const inp = h('input', { type: 'text', value: value ?? '', placeholder: s.format || '' });
      if (s.format) inp.setAttribute('autocomplete', 'off');
      return wrap(inp, () => (inp.value === '' && !required ? undefined : inp.value));
    }
    default: {
      // Arrays, unions and untyped values: edit as JSON.
      const ta = h('textarea', { rows: 3 }, value === undefined ? '' : JSON.stringify(value, null, 2));
      return wrap(ta, () => {
        const v = ta.value.trim();
        if (v === '') return undefined;
        try { return JSON.parse(v); } catch { throw new FormError(path, 'not valid JSON'); }
      });
    }
  }
}

class FormError extends Error {
  constructor(path, message) { super(message); this.path = path; }
}

// requiredKeys names the required fields of an object schema. A field
// that has other accepted names (a Go name, an alias) is required through
// allOf: [{anyOf: [{required: [name]}, {required: [other]}, ...]}].
function requiredKeys(s) {
  const req = new Set(s.required || []);
  for (const part of s.allOf || []) {
    const first = part.anyOf?.[0]?.required;
    if (Array.isArray(first) && first.length === 1) req.add(first[0]);
  }
  return req;
}

function buildObject(s, root, path, value) {
  s = resolve(s, root);
  const req = requiredKeys(s);
  // Other accepted names of a field get no input of their own: the form
  // writes each field under its own name.
  const props = Object.entries(s.properties || {});
  const aliases = props.filter(([, sub]) => sub['x-skald-alias-of']);
  // A value stored under another name (Python writes field names) still
  // fills the field's input.
  const valueOf = (k) => value[k] ?? aliases.map(([a, sub]) => (sub['x-skald-alias-of'] === k ? value[a] : undefined)).find((v) => v !== undefined);
  const fields = props.filter(([, sub]) => !sub['x-skald-alias-of'])
    .map(([k, sub]) => [k, buildField(sub, root, pathOf(path, k), k, valueOf(k), req.has(k))]);
  return {
    el: h('div', {}, fields.map(([, f]) => f.el)),
    get() {
      const out = {};
      for (const [k, f] of fields) {
        const v = f.get();
        if (v !== undefined) out[k] = v;
      }
      return out;
    },
  };
}

// attachmentForm renders the form for a task's attachments: generated
// from the class's schema when a node publishes one, a JSON editor
// otherwise.
function attachmentForm(container, task, schemaDoc, onSubmit) {
  let get;
  let body;
  if (schemaDoc && typeOf(resolve(schemaDoc, schemaDoc)) === 'object') {
    const obj = buildObject(schemaDoc, schemaDoc, '$', task.attachments || {});
    body = obj.el;
    get = obj.get;
  } else {
    const ta = h('textarea', { id: 'att-json', rows: 10, dataset: { path: '$' } }, JSON.stringify(task.attachments || {}, null, 2));
    body = h('div', { class: 'field', dataset: { path: '$' } }, h('label', { for: 'att-json' }, 'Attachments (JSON)'), ta,
      h('div', { class: 'hint' }, 'No online node publishes a schema for this class; the node checks the attachments when it applies them.'),
      h('div', { class: 'err' }));
    get = () => { try { return JSON.parse(ta.value); } catch { throw new FormError('$', 'not valid JSON'); } };
  }
  const formErr = h('div', { class: 'msg bad', id: 'form-error' });
  const msg = h('div', { class: 'msg', id: 'form-msg' });
  const submit = h('button', { type: 'submit', id: 'att-submit' }, 'Update attachments');
  const form = h('form', { class: 'att', id: 'att-form', novalidate: true }, body, formErr, h('div', { class: 'actions' }, submit), msg);

  const clearErrors = () => {
    formErr.replaceChildren();
    for (const f of form.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
    for (const e of form.querySelectorAll('.err')) e.textContent = '';
  };
  const showFieldErrors = (fields) => {
    const unplaced = [];
    for (const fe of fields) {
      const f = [...form.querySelectorAll('.field')].find((x) => x.dataset.path === fe.path);
      if (f) {
        f.classList.add('invalid');
        const slot = f.querySelector(':scope > .err');
        slot.textContent = slot.textContent ? slot.textContent + '; ' + fe.message : fe.message;
      } else {
        unplaced.push(fe);
      }
    }
    formErr.replaceChildren(...unplaced.map((fe) => h('div', {}, h('code', {}, fe.path), ': ', fe.message)));
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    msg.textContent = '';
    msg.className = 'msg';
    let value;
    try { value = get(); } catch (e) {
      if (e instanceof FormError) { showFieldErrors([{ path: e.path, message: e.message }]); return; }
      throw e;
    }
    submit.disabled = true;
    try {
      await onSubmit(value, msg);
    } catch (e) {
      if (e instanceof APIError && Array.isArray(e.body.fields)) {
        formErr.replaceChildren(h('div', {}, e.message));
        showFieldErrors(e.body.fields.map((f) => ({ path: f.path.startsWith('$') ? f.path : '$', message: f.message })));
      } else {
        formErr.replaceChildren(h('div', {}, e.message));
      }
    } finally {
      submit.disabled = false;
    }
  });
  container.replaceChildren(form);
  return { showFieldErrors };
}

// ---- task page ----

function taskView(app, id) {
  const facts = h('dl', { class: 'facts', id: 'facts' });
  const formBox = h('div', {}, h('p', { class: 'muted' }, 'Loading the form…'));
  const rejection = h('div', { id: 'rejection' });
  const actionMsg = h('div', { class: 'msg', id: 'action-msg' });
  let task = null;
  // cls is the task's class as GET /api/classes/{name} answers it, with
  // the schemas of its progress and result: undefined until read, null
  // when no online node serves the class.
  let cls;
  let pendingVersion = 0;
  let formMsg = null;

  // Cancel and retry ask first, in the page: one stray click must not
  // stop a worker or start a finished task again.
  const confirmBox = h('div', { class: 'confirm', id: 'confirm', hidden: true });
  let asking = ''; // the action the confirmation is about
  const ask = (what, question) => {
    asking = what;
    actionMsg.textContent = '';
    confirmBox.replaceChildren(h('span', {}, question),
      h('button', { class: what === 'cancel' ? 'danger' : '', id: 'confirm-yes', onclick: () => { confirmBox.hidden = true; act(what); } },
        what === 'cancel' ? 'Yes, cancel it' : 'Yes, retry it'),
      h('button', { class: 'secondary', id: 'confirm-no', onclick: () => { confirmBox.hidden = true; } }, 'No'));
    confirmBox.hidden = false;
  };
  const cancelBtn = h('button', { class: 'danger', id: 'cancel',
    onclick: () => ask('cancel', `Cancel task ${id}? Its worker is stopped.`) }, 'Cancel');
  const retryBtn = h('button', { class: 'secondary', id: 'retry',
    onclick: () => ask('retry', `Run task ${id} again? It goes back to Created with a fresh retry budget.`) }, 'Retry (back to Created)');

  app.replaceChildren(
    h('p', {}, h('a', { href: '#/' }, '‹ overview')),
    h('h2', {}, 'Task ', h('code', { id: 'task-id' }, id)),
    h('div', { class: 'two' },
      h('section', { class: 'panel' }, facts, h('div', { class: 'actions' }, cancelBtn, retryBtn), confirmBox, actionMsg),
      h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'Attachments'), rejection, formBox)),
  );
  const reports = taskReports(app);
  const history = taskHistory(app, id);
  const logs = taskLogs(app, id);

  function renderFacts() {
    const t = task;
    facts.replaceChildren(
      ...fact('Class', classLink(t.className), 'f-class'),
      ...fact('Status', badge(t.lifecycleStatus), 'status'),
      ...fact('Executor', t.executor ? nodeLink(t.executor) : '-', 'executor'),
      ...fact('Attachments version', String(t.attachmentsVersion), 'att-version'),
      ...fact('Applied by the worker', String(t.appliedAttachmentsVersion), 'applied-version'),
      ...fact('Assignment epoch', String(t.assignmentEpoch), 'epoch'),
      ...fact('Attempts', String(t.attempts), 'attempts'),
      ...fact('Priority', String(t.priority), 'priority'),
      ...fact('Heartbeat', beatAge(t.lastBeat), 'heartbeat'),
      ...(t.unserved && !TERMINAL.includes(t.lifecycleStatus) ? fact('Served by', unservedNote(t), 'unserved') : []),
      ...fact('Created', when(t.createDateTime)),
      ...fact('Updated', [when(t.updateDateTime), ' ', h('span', { class: 'muted', id: 'since-update' }, '(' + ago(t.updateDateTime) + ')')], 'updated'),
      ...(t.assignedDateTime && t.lifecycleStatus !== 'Created' ? fact('Run time', runTime(t), 'run-time') : []),
      ...(t.error ? fact('Error', t.error, 'error') : []),
      ...(t.errorKind ? fact('Error kind', t.errorKind === 'terminal' ? 'terminal: never retried' : t.errorKind, 'error-kind') : []),
    );
    cancelBtn.disabled = ['Cancelled', 'Finished'].includes(t.lifecycleStatus);
    // Retry is offered only for a task that has ended.
    retryBtn.hidden = !TERMINAL.includes(t.lifecycleStatus);
    // A confirmation about an action the task no longer allows (it ended,
    // or started again, meanwhile) goes away rather than be answered.
    if ((asking === 'cancel' && cancelBtn.disabled) || (asking === 'retry' && retryBtn.hidden)) confirmBox.hidden = true;
    const rj = t.attachmentsRejection;
    rejection.replaceChildren(rj && rj.version > t.appliedAttachmentsVersion
      ? h('div', { class: 'msg bad' }, `The worker rejected version ${rj.version} and keeps version ${t.appliedAttachmentsVersion}: ${rj.message}`,
        ...(rj.fields || []).map((f) => h('div', {}, h('code', {}, f.path), ': ', f.message)))
      : []);
    reports.render(t, cls);
    if (formMsg && pendingVersion) {
      if (t.appliedAttachmentsVersion >= pendingVersion) {
        formMsg.textContent = `Version ${pendingVersion} applied by the worker.`;
        formMsg.className = 'msg ok';
        pendingVersion = 0;
      } else if (rj && rj.version >= pendingVersion) {
        formMsg.textContent = `The worker rejected version ${pendingVersion}.`;
        formMsg.className = 'msg bad';
        pendingVersion = 0;
      }
    }
  }

  async function load() {
    try {
      task = await api('/api/tasks/' + encodeURIComponent(id));
    } catch (e) { showError(app, e); return; }
    renderFacts();
    loadClass();
    let schemaDoc = null;
    try { schemaDoc = await api('/api/classes/' + encodeURIComponent(task.className) + '/schema'); } catch { /* no schema: JSON editor */ }
    attachmentForm(formBox, task, schemaDoc, async (value, msg) => {
      const res = await api('/api/tasks/' + encodeURIComponent(id) + '/attachments', { method: 'PUT', body: { attachments: value } });
      const v = res.data.attachmentsVersion;
      task.attachmentsVersion = Math.max(task.attachmentsVersion, v);
      formMsg = msg;
      if (task.appliedAttachmentsVersion >= v) {
        // The stream can bring the worker's answer before this response.
        msg.textContent = `Version ${v} applied by the worker.`;
        msg.className = 'msg ok';
      } else if (['Assigning', 'Running'].includes(task.lifecycleStatus)) {
        pendingVersion = v;
        msg.textContent = `Stored as version ${v}; waiting for the worker to apply it…`;
        msg.className = 'msg';
      } else {
        msg.textContent = `Stored as version ${v}.`;
        msg.className = 'msg ok';
      }
      renderFacts();
    });
  }

  // loadClass reads the class's progress and result schemas, again when
  // nodes come and go (the class may be served by others meanwhile).
  async function loadClass() {
    try { cls = await api('/api/classes/' + encodeURIComponent(task.className)); } catch { cls = null; }
    if (task) reports.render(task, cls);
  }
  const reloadClass = debounce(loadClass, 500);

  async function act(what) {
    actionMsg.textContent = '';
    try {
      const res = what === 'cancel'
        ? await api('/api/tasks/' + encodeURIComponent(id), { method: 'DELETE' })
        : await api('/api/tasks/' + encodeURIComponent(id) + '/status', { method: 'PUT', body: { lifecycleStatus: 'Created' } });
      actionMsg.textContent = res.message;
      actionMsg.className = 'msg ok';
    } catch (e) {
      // The API's own error says why (409: the task has not ended...).
      actionMsg.textContent = `${what === 'cancel' ? 'Cancel' : 'Retry'} failed: ${e.message}`;
      actionMsg.className = 'msg bad';
    }
  }

  load();
  // The age of the last beat grows between events.
  const tick = setInterval(() => {
    if (!task) return;
    document.getElementById('heartbeat')?.replaceChildren(beatAge(task.lastBeat));
    const since = document.getElementById('since-update');
    if (since) since.textContent = '(' + ago(task.updateDateTime) + ')';
    const rt = document.getElementById('run-time');
    if (rt && task.assignedDateTime) rt.textContent = runTime(task);
    const pa = document.getElementById('progress-age');
    if (pa && task.progressDateTime) pa.textContent = '(' + ago(task.progressDateTime) + ')';
  }, 1000);
  const reload = debounce(async () => {
    try { Object.assign(task, await api('/api/tasks/' + encodeURIComponent(id))); renderFacts(); } catch { /* the next event retries */ }
  }, 500);
  return {
    dispose: () => { logs.stop(); clearInterval(tick); },
    listener(msg) {
      if (msg.type === 'resync') { load(); return; }
      // Whether the task's class is served changes with the nodes.
      if (task && msg.stream === 'skalds' && msg.type === 'skald_status') { reload(); reloadClass(); return; }
      if (!task || msg.taskId !== id) return;
      if (msg.type === 'task_update') {
        // A new assignment has a new start, which the event does not carry.
        if (msg.data.assignmentEpoch !== task.assignmentEpoch) reload();
        Object.assign(task, msg.data);
        task.error = msg.data.error || null;
        task.errorKind = msg.data.errorKind || null;
        // Absent from the event means none: a new run clears them.
        task.progress = msg.data.progress ?? null;
        task.progressDateTime = msg.data.progressDateTime ?? null;
        task.result = msg.data.result ?? null;
        renderFacts();
        history.refresh();
      } else if (msg.type === 'task_heartbeat') {
        task.heartbeat = msg.data.heartbeat;
        task.lastBeat = msg.data.lastBeat || msg.timestamp;
        document.getElementById('heartbeat')?.replaceChildren(beatAge(task.lastBeat));
      }
    },
  };
}

// ---- a task's history ----

// taskHistory appends the task's timeline to container: each transition
// with its time, node, epoch and attachments version, newest last. refresh
// reads it again (debounced), as task events come.
function taskHistory(container, id) {
  const list = h('ol', { class: 'timeline', id: 'history' });
  const note = h('p', { class: 'muted', id: 'history-note' }, 'Loading the history…');
  container.append(h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'History'), note, list));
  const item = (e) => h('li', { class: 'ev-' + e.event, dataset: { event: e.event } },
    h('span', { class: 'muted' }, new Date(e.at).toLocaleTimeString()), ' ',
    h('strong', {}, e.event),
    e.node ? ` on ${e.node}` : '', ` · epoch ${e.epoch}`,
    e.version ? ` · v${e.version}` : '',
    e.status ? ` · ${e.status}` : '',
    e.errorKind ? h('span', { class: 'badge' }, e.errorKind) : '',
    e.backoffMs ? ` · after ${(e.backoffMs / 1000).toFixed(1)} s` : '',
    (e.paths || []).length ? h('span', {}, ' at ', ...e.paths.map((p) => h('code', {}, p, ' '))) : '',
    e.message ? h('div', { class: 'muted' }, e.message.split('\n')[0]) : '');
  const load = async () => {
    try {
      const res = await api('/api/tasks/' + encodeURIComponent(id) + '/history');
      list.replaceChildren(...res.entries.map(item));
      note.textContent = res.dropped ? `${res.dropped} older entries not kept.` : '';
    } catch (e) { showError(note, e); }
  };
  load();
  return { refresh: debounce(load, 300) };
}

// ---- a task's log ----

// taskLogs appends the task's log to container: its last records, then
// each new one as the worker writes it (the API holds each request until
// a record comes, up to 20 s). stop ends the following.
function taskLogs(container, id) {
  const list = h('div', { class: 'logs', id: 'logs' });
  const note = h('p', { class: 'muted', id: 'logs-note' }, 'Loading the log…');
  container.append(h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'Log'), note, list));
  let stopped = false;
  const path = '/api/tasks/' + encodeURIComponent(id) + '/logs';
  const line = (r) => {
    const attrs = Object.entries(r.attrs || {}).sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => h('span', { class: 'attr' }, k, '=', typeof v === 'string' ? v : JSON.stringify(v)));
    return h('div', { class: 'logline ' + (r.level || '').toLowerCase(), dataset: { id: r.id } },
      h('span', { class: 'muted' }, new Date(r.time).toLocaleTimeString()), ' ',
      h('span', { class: 'lvl' }, r.level), ' ', h('span', { class: 'logmsg' }, r.msg), ' ', attrs);
  };
  const add = (records) => {
    const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.append(...records.map(line));
    while (list.childElementCount > 1000) list.firstElementChild.remove();
    if (atEnd) list.scrollTop = list.scrollHeight;
    note.textContent = list.childElementCount ? '' : 'Nothing logged yet; new records appear here.';
  };
  (async () => {
    let next;
    try {
      const first = await api(path + '?limit=200');
      add(first.records);
      next = first.next;
    } catch (e) { showError(note, e); return; }
    let failures = 0;
    while (!stopped) {
      try {
        const res = await api(path + '?after=' + encodeURIComponent(next) + '&wait=20s&limit=1000');
        if (stopped) return;
        add(res.records);
        next = res.next;
        failures = 0;
      } catch (e) {
        // A controller restarting or a network hiccup: say so and retry.
        note.textContent = 'Following the log failed (' + (e.message || e) + '); retrying…';
        await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** failures++)));
      }
    }
  })();
  return { stop: () => { stopped = true; } };
}

// ---- progress and result, rendered from their schemas ----

// taskReports appends the panels of a task's progress and result to
// container. render(task, cls) draws them from the values stored on the
// task and the JSON Schemas that the class's nodes publish (cls, from GET
// /api/classes/{name}): no Go type is involved. A value is only ever put
// in a text node or an attribute, never parsed as HTML.
function taskReports(container) {
  const progress = h('div', { id: 'progress' });
  const progressNote = h('p', { class: 'muted', id: 'progress-note' }, 'Loading…');
  const problems = h('div', { class: 'msg bad', id: 'report-problems' });
  const result = h('div', { id: 'result' });
  const resultNote = h('p', { class: 'muted', id: 'result-note' }, 'Loading…');
  container.append(h('div', { class: 'two' },
    h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'Progress'), problems, progressNote, progress),
    h('section', { class: 'panel' }, h('h2', { class: 'flush' }, 'Result'), resultNote, result)));
  // What is drawn, so that an event that changes neither value nor schema
  // leaves the panels (and a selection in them) alone.
  let drawn = '';
  return {
    render(t, cls) {
      if (cls === undefined) return; // the schemas are being read
      const key = JSON.stringify([t.progress, t.progressDateTime, t.result, t.lifecycleStatus, cls?.progressSchema, cls?.resultSchema, cls?.problems]);
      if (key === drawn) return;
      drawn = key;
      const ended = TERMINAL.includes(t.lifecycleStatus);
      // Nodes that disagree on a schema, or publish a broken one: the
      // rendering may then not match what the task's node reports.
      const issues = Array.isArray(cls?.problems) ? cls.problems : [];
      problems.replaceChildren(...issues.map((p) => h('div', {}, String(p))));
      problems.hidden = !issues.length;
      drawReport(progress, progressNote, t.progress, cls?.progressSchema, {
        what: 'progress', className: t.className,
        none: ended ? 'The task ended without reporting progress.' : 'No progress reported yet.',
        // The age ticks with the page's clock (see taskView).
        at: t.progressDateTime ? ['Reported ', when(t.progressDateTime), ' ', h('span', { id: 'progress-age' }, '(' + ago(t.progressDateTime) + ')'), '.'] : [],
      });
      drawReport(result, resultNote, t.result, cls?.resultSchema, {
        what: 'result', className: t.className,
        none: ended ? 'The task ended without a result.' : 'The result is stored when the task ends.',
        at: [],
      });
    },
  };
}

// drawReport shows value in box, from schemaDoc when there is one and as
// JSON otherwise, with a line in note that says what is shown (at: the
// nodes that say when it was reported).
function drawReport(box, note, value, schemaDoc, { what, className, none, at }) {
  if (value === null || value === undefined) {
    note.textContent = none;
    box.replaceChildren();
    return;
  }
  if (schemaDoc && typeof schemaDoc === 'object') {
    note.replaceChildren(...at);
    box.replaceChildren(reportView(value, schemaDoc, schemaDoc, '$', 0));
  } else {
    note.replaceChildren(...at, at.length ? ' ' : '', `No online node publishes a ${what} schema for class ${className}: shown as JSON.`);
    box.replaceChildren(rawJSON(value, true));
  }
}

// Bounds of what one report draws: a hostile or runaway value must not
// freeze the page.
const REPORT_DEPTH = 8;
const REPORT_ITEMS = 100;
const REPORT_TEXT = 2000;

const clip = (s) => (s.length > REPORT_TEXT ? s.slice(0, REPORT_TEXT) + '…' : s);
const textOf = (x) => (typeof x === 'string' ? x : undefined);

// rawJSON shows a value as JSON text, for what no schema describes.
function rawJSON(v, pretty = false) {
  return h(pretty ? 'pre' : 'code', { class: 'raw' }, clip(JSON.stringify(v, null, pretty ? 2 : 0) ?? String(v)));
}

// jsonType is the JSON Schema type of a value.
function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

// fits reports whether v has a type that schema s (resolved) allows.
function fits(v, s) {
  const types = Array.isArray(s.type) ? s.type : typeof s.type === 'string' ? [s.type] : null;
  if (!types) return true;
  const t = jsonType(v);
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}

// branchFor resolves s for value v: a $ref is followed, and of the
// branches of anyOf/oneOf the first that fits v is taken (a nullable
// field is an anyOf of its type and null).
function branchFor(v, s, root) {
  s = resolve(s, root);
  for (let i = 0; i < 4; i++) {
    const alts = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null;
    if (!alts) break;
    const picked = alts.map((b) => resolve(b, root)).find((b) => b && typeof b === 'object' && fits(v, b) && !(v !== null && b.type === 'null'));
    if (!picked) break;
    s = picked;
  }
  return s && typeof s === 'object' ? s : {};
}

// reportView returns the DOM of value v, at path, as schema s of document
// root describes it.
function reportView(v, s, root, path, depth) {
  s = branchFor(v, s, root);
  if (depth > REPORT_DEPTH) return rawJSON(v);
  if (!fits(v, s)) {
    return h('span', { class: 'mismatch', title: `not of the type the schema gives (${[s.type].flat().join(', ')}): shown as it is` }, rawJSON(v));
  }
  if (v === null) return h('span', { class: 'muted' }, '—');
  if (Array.isArray(v)) return reportArray(v, s, root, path, depth);
  switch (typeof v) {
    case 'object': return reportObject(v, s, root, path, depth);
    case 'number': return h('span', { class: 'num' }, formatNumber(v, s));
    case 'boolean': return h('span', {}, v ? 'yes' : 'no');
    case 'string': return h('span', { class: 'str' }, formatString(v, s));
    default: return rawJSON(v);
  }
}

// reportObject lists the fields of v: those the schema describes first,
// in its order, by their titles (the name when there is none) with their
// descriptions as tooltips, then the others as raw JSON. A field under
// another accepted name (x-skald-alias-of) is shown as the field it names.
function reportObject(v, s, root, path, depth) {
  const props = s.properties && typeof s.properties === 'object' ? s.properties : {};
  const extra = s.additionalProperties && typeof s.additionalProperties === 'object' ? s.additionalProperties : null;
  // Object.hasOwn, not props[k]: a key such as "__proto__" or
  // "constructor" must not find what every object inherits.
  const described = (k) => Object.hasOwn(props, k);
  const keys = [...Object.keys(props).filter((k) => Object.hasOwn(v, k)), ...Object.keys(v).filter((k) => !described(k))];
  if (!keys.length) return h('span', { class: 'muted' }, 'empty');
  const dl = h('dl', { class: 'report' });
  for (const k of keys.slice(0, REPORT_ITEMS)) {
    let sub = described(k) ? props[k] : extra;
    let name = k;
    const alias = textOf(sub?.['x-skald-alias-of']);
    if (alias !== undefined && described(alias)) { name = alias; sub = props[alias]; }
    const at = pathOf(path, k);
    if (!sub || typeof sub !== 'object') {
      dl.append(h('dt', { class: 'unknown', title: `${k}: not in the class's schema, shown as it is`, dataset: { field: at } }, k),
        h('dd', { dataset: { field: at } }, rawJSON(v[k])));
      continue;
    }
    const rs = resolve(sub, root);
    const title = textOf(sub.title) ?? textOf(rs.title) ?? name;
    const desc = textOf(sub.description) ?? textOf(rs.description);
    dl.append(h('dt', { title: [desc, title !== k ? `field ${k}` : ''].filter(Boolean).join(' · ') || undefined, dataset: { field: at } }, title),
      h('dd', { dataset: { field: at } }, reportView(v[k], sub, root, at, depth + 1)));
  }
  if (keys.length > REPORT_ITEMS) dl.append(h('dt', { class: 'muted' }, '…'), h('dd', { class: 'muted' }, `${keys.length - REPORT_ITEMS} more fields`));
  return dl;
}

// reportArray shows a list of scalars on one line and anything else as a
// numbered list, each item by the schema of the items.
function reportArray(v, s, root, path, depth) {
  if (!v.length) return h('span', { class: 'muted' }, 'none');
  const items = s.items && typeof s.items === 'object' ? s.items : {};
  const shown = v.slice(0, REPORT_ITEMS);
  const more = v.length > REPORT_ITEMS ? `… and ${v.length - REPORT_ITEMS} more` : '';
  if (shown.every((x) => x === null || typeof x !== 'object')) {
    return h('span', { class: 'report-items' }, shown.map((x, i) => [i ? ', ' : '', reportView(x, items, root, `${path}[${i}]`, depth + 1)]),
      more ? h('span', { class: 'muted' }, ' ', more) : '');
  }
  return h('ol', { class: 'report-list', start: 0 }, shown.map((x, i) => h('li', {}, reportView(x, items, root, `${path}[${i}]`, depth + 1))),
    more ? h('li', { class: 'muted' }, more) : '');
}

// formatNumber writes a number for people: grouped digits, a few
// decimals, a duration for a Go duration in nanoseconds.
function formatNumber(n, s) {
  if (!Number.isFinite(n)) return String(n);
  if (s.format === 'x-skald-duration') return formatDuration(n / 1e6);
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? n.toLocaleString() : String(n);
  if (n !== 0 && Math.abs(n) < 0.001) return n.toExponential(2);
  return n.toLocaleString(undefined, { maximumFractionDigits: 3 });
}

// formatDuration writes ms as "250 ms", "1.5 s", "2 min 5 s" or "3 h 4 min".
function formatDuration(ms) {
  const sign = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${sign}${ms.toLocaleString(undefined, { maximumFractionDigits: 3 })} ms`;
  const s = ms / 1000;
  if (s < 60) return `${sign}${s.toLocaleString(undefined, { maximumFractionDigits: 2 })} s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${sign}${Math.floor(s / 3600).toLocaleString()} h ${Math.floor((s % 3600) / 60)} min`;
}

// formatString writes a date-time in the reader's time zone, and any
// other string as it is, clipped.
function formatString(v, s) {
  if (s.format === 'date-time') {
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d.toLocaleString();
  }
  return clip(v);
}

// ---- start ----

takeTokenFromFragment();
window.addEventListener('hashchange', () => { takeTokenFromFragment(); route(); });
events.start();
route();
