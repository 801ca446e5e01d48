// The Portico dashboard: plain DOM, no framework. Everything shown goes in
// through textContent or DOM attributes, never as HTML, so a log line or a
// document holding markup is shown as the text it is.

const BASE = '/_portico/dashboard/api/';
const $ = (selector) => document.querySelector(selector);
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

async function api(path, { method = 'GET', body } = {}) {
  const headers = method === 'POST' ? { 'content-type': 'application/json', 'x-portico-dashboard': '1' } : {};
  const response = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (response.status === 401) {
    showLogin();
    throw new Error('not logged in');
  }
  const text = await response.text();
  const value = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(value?.message ?? `HTTP ${response.status}`);
  return value;
}

// ---- login and tabs

function showLogin() {
  $('#login').hidden = false;
  $('#tabs').hidden = true;
  $('#logout').hidden = true;
  for (const view of document.querySelectorAll('.view')) view.hidden = true;
}

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('#login-error').textContent = '';
  const response = await fetch(BASE + 'login', { method: 'POST', headers: { 'content-type': 'application/json', 'x-portico-dashboard': '1' }, body: JSON.stringify({ key: $('#key').value }) });
  if (response.status === 204) {
    $('#key').value = '';
    start();
  } else {
    $('#login-error').textContent = response.status === 401 ? 'That is not the admin key.' : `Could not log in (HTTP ${response.status}).`;
  }
});

$('#logout').addEventListener('click', async () => {
  await api('logout', { method: 'POST' }).catch(() => {});
  showLogin();
});

const views = { functions: loadFunctions, logs: startLogs, data: loadTables, files: () => loadFiles(null), health: loadHealth };
let current = null;

function show(name) {
  current = name;
  for (const button of document.querySelectorAll('#tabs button')) button.classList.toggle('active', button.dataset.view === name);
  for (const view of document.querySelectorAll('.view')) view.hidden = view.id !== `view-${name}`;
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  views[name]().catch((error) => console.error(error));
}

for (const button of document.querySelectorAll('#tabs button')) button.addEventListener('click', () => show(button.dataset.view));

async function start() {
  try {
    await api('session');
  } catch {
    return;
  }
  $('#login').hidden = true;
  $('#tabs').hidden = false;
  $('#logout').hidden = false;
  const wanted = location.hash.slice(1);
  show(wanted in views ? wanted : 'functions');
}

// ---- Functions

function chart(points) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 60 20');
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = (values, cls) => {
    const max = Math.max(1, ...values.filter((v) => v !== null));
    const polyline = document.createElementNS(SVG, 'polyline');
    polyline.setAttribute('class', cls);
    polyline.setAttribute('vector-effect', 'non-scaling-stroke');
    polyline.setAttribute('points', values.map((v, i) => `${i},${20 - ((v ?? 0) / max) * 19}`).join(' '));
    svg.append(polyline);
  };
  line(points.map((p) => p.calls), 'calls');
  line(points.map((p) => p.errors), 'errors');
  line(points.map((p) => p.p50), 'p50');
  line(points.map((p) => p.p99), 'p99');
  const total = points.reduce((sum, p) => sum + p.calls, 0);
  const errors = points.reduce((sum, p) => sum + p.errors, 0);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = `${total} calls, ${errors} errors in the last hour`;
  svg.append(title);
  return el('div', { class: 'chart-cell' }, svg, el('div', { class: 'totals' }, `${total} calls, ${errors} errors`));
}

function size(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(0)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(0)} KiB` : `${bytes} B`;
}

/** `{author: string, limit?: number}`: the arguments at a glance; the full schema opens below. */
function shortSchema(schema) {
  const type = (s) => (s?.type ? (Array.isArray(s.type) ? s.type.join('|') : s.type) : s?.anyOf ? s.anyOf.map(type).join('|') : s?.const !== undefined ? JSON.stringify(s.const) : 'any');
  if (schema?.type !== 'object' || !schema.properties) return type(schema);
  const required = new Set(schema.required ?? []);
  return `{${Object.entries(schema.properties).map(([key, value]) => `${key}${required.has(key) ? '' : '?'}: ${type(value)}`).join(', ')}}`;
}

async function loadFunctions() {
  const [overview, charts] = await Promise.all([api('overview'), api('charts')]);
  const routes = $('#routes tbody');
  routes.replaceChildren();
  for (const route of overview.routes) {
    const key = (method) => `${method} ${route.path}`;
    const series = route.methods.map((m) => charts.routes[key(m)]).find(Boolean);
    routes.append(
      el('tr', { class: route.generated ? 'generated' : '' },
        el('td', {}, route.methods.join(', ')),
        el('td', {}, route.path),
        el('td', {}, route.handler),
        el('td', {}, route.cors),
        el('td', {}, route.auth),
        el('td', {}, route.generated ? '' : `body ${size(route.limits.body)}, timeout ${route.limits.timeoutMs / 1000} s`),
        el('td', {}, series ? chart(series) : ''),
      ),
    );
  }
  const functions = $('#functions tbody');
  functions.replaceChildren();
  const select = $('#run-name');
  const chosen = select.value;
  select.replaceChildren();
  for (const fn of overview.functions) {
    functions.append(
      el('tr', {},
        el('td', {}, fn.name),
        el('td', {}, fn.kind),
        el('td', {}, fn.visibility),
        el('td', {}, fn.args === null ? '' : el('details', {}, el('summary', {}, shortSchema(fn.args)), el('pre', {}, JSON.stringify(fn.args, null, 1)))),
        el('td', {}, charts.functions[fn.name] ? chart(charts.functions[fn.name]) : ''),
      ),
    );
    if (fn.kind !== 'httpAction') select.append(el('option', { value: `${fn.kind}|${fn.name}` }, `${fn.name} (${fn.kind})`));
  }
  if (chosen) select.value = chosen;
}

$('#run-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const [kind, name] = $('#run-name').value.split('|');
  $('#run-result').textContent = 'running...';
  $('#run-logs').textContent = '';
  let args;
  try {
    args = JSON.parse($('#run-args').value || '{}');
  } catch (error) {
    $('#run-result').textContent = `The arguments are not JSON: ${error.message}`;
    return;
  }
  try {
    const result = await api('run', { method: 'POST', body: { kind, name, args } });
    $('#run-result').textContent =
      result.status === 'success'
        ? `Success:\n${JSON.stringify(result.value, null, 2)}`
        : `Error: ${result.errorMessage}${result.errorData !== undefined ? `\nData: ${JSON.stringify(result.errorData, null, 2)}` : ''}`;
    $('#run-logs').textContent = result.logLines.join('\n');
  } catch (error) {
    $('#run-result').textContent = `Error: ${error.message}`;
  }
});

// ---- Logs

const LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const log = { cursor: '', lines: [], paused: false, timer: null, requestId: null };
const MAX_LINES = 10000;

function sourceOf(line) {
  return line.handler ?? line.source ?? (line.event ? 'deployment' : '');
}

function visible(line) {
  if (log.requestId !== null) return line.reqId === log.requestId;
  const text = $('#log-text').value.toLowerCase();
  const only = $('#log-function').value.toLowerCase();
  const except = $('#log-exclude').value.toLowerCase();
  const status = $('#log-status').value;
  const level = Number($('#log-level').value || 0);
  const source = `${sourceOf(line)} ${line.route ?? ''}`.toLowerCase();
  if (only && !source.includes(only)) return false;
  if (except && source.includes(except)) return false;
  if (status && !String(line.status ?? '').startsWith(status)) return false;
  if (level && line.level < level) return false;
  if (text && !line.raw.toLowerCase().includes(text)) return false;
  return true;
}

function row(line) {
  const time = new Date(line.time).toISOString().slice(11, 23);
  const request = line.reqId ? el('button', { class: 'reqid', onclick: () => showRequest(line.reqId) }, line.reqId) : '';
  let message = line.msg ?? '';
  if (line.msg === 'request') message = `${line.method} ${line.path}`;
  if (line.err?.message) message += ` ${line.err.message}`;
  return el('tr', { class: `level-${line.level}${line.msg === 'request' ? '' : ' child'}` },
    el('td', {}, time),
    el('td', {}, request),
    el('td', { class: line.status ? `status-${String(line.status)[0]}` : '' }, line.status ?? LEVELS[line.level] ?? ''),
    el('td', {}, sourceOf(line)),
    el('td', {}, el('pre', {}, message)),
    el('td', {}, line.ms ?? ''),
  );
}

function render() {
  const body = $('#log-lines tbody');
  const shown = log.lines.filter(visible).slice(-1000).reverse();
  body.replaceChildren(...shown.map(row));
}

function showRequest(id) {
  log.requestId = id;
  $('#log-request').hidden = false;
  $('#log-request-id').textContent = id;
  render();
}

$('#log-request-clear').addEventListener('click', () => {
  log.requestId = null;
  $('#log-request').hidden = true;
  render();
});
for (const input of ['#log-text', '#log-function', '#log-exclude']) $(input).addEventListener('input', render);
for (const select of ['#log-status', '#log-level']) $(select).addEventListener('change', render);
$('#log-pause').addEventListener('click', () => {
  log.paused = !log.paused;
  $('#log-pause').textContent = log.paused ? 'Resume' : 'Pause';
  if (!log.paused) render();
});

async function poll() {
  try {
    const page = await api(`logs?cursor=${encodeURIComponent(log.cursor)}`);
    log.cursor = page.cursor;
    for (const raw of page.lines) {
      try {
        log.lines.push({ ...JSON.parse(raw), raw });
      } catch {
        log.lines.push({ level: 30, time: Date.now(), msg: raw, raw });
      }
    }
    if (log.lines.length > MAX_LINES) log.lines.splice(0, log.lines.length - MAX_LINES);
    if (page.lines.length > 0 && !log.paused) render();
  } catch (error) {
    if (error.message === 'not logged in') return;
  }
  if (current === 'logs') log.timer = setTimeout(poll, 500);
  else log.timer = null;
}

async function startLogs() {
  if (log.timer === null) poll();
}

// ---- Data

let table = null;
let documentCursor = null;

async function loadTables() {
  const list = $('#tables');
  list.replaceChildren();
  for (const t of await api('tables')) {
    list.append(el('li', {}, el('button', { onclick: () => openTable(t) }, t.name), ` ${t.count}${t.countIsLowerBound ? '+' : ''} documents`));
  }
}

function openTable(t) {
  table = t;
  $('#table-view').hidden = false;
  $('#table-name').textContent = t.name;
  const select = $('#index-name');
  select.replaceChildren(el('option', { value: '' }, 'creation time'), ...t.indexes.map((index) => el('option', { value: index.name }, `${index.name} (${index.fields.join(', ')})`)));
  $('#index-eq').value = '[]';
  loadDocuments(null);
}

$('#index-form').addEventListener('submit', (event) => {
  event.preventDefault();
  loadDocuments(null);
});
$('#documents-next').addEventListener('click', () => loadDocuments(documentCursor));

async function loadDocuments(cursor) {
  const params = new URLSearchParams({ table: table.name, index: $('#index-name').value, eq: $('#index-eq').value || '[]' });
  if (cursor) params.set('cursor', cursor);
  const body = $('#documents tbody');
  try {
    const page = await api(`documents?${params}`);
    documentCursor = page.cursor;
    $('#documents-next').hidden = page.cursor === null;
    body.replaceChildren(
      ...page.documents.map((doc) => {
        const { _id, _creationTime, ...fields } = doc;
        return el('tr', {},
          el('td', {}, el('button', { class: 'reqid', onclick: () => showDocument(_id) }, _id)),
          el('td', {}, new Date(_creationTime).toISOString()),
          el('td', {}, el('pre', {}, JSON.stringify(fields))),
          el('td', {}, el('button', { class: 'delete', onclick: () => removeDocument(_id) }, 'Delete')),
        );
      }),
    );
  } catch (error) {
    body.replaceChildren(el('tr', {}, el('td', { class: 'error', colSpan: 4 }, error.message)));
  }
}

async function showDocument(id) {
  const doc = await api(`document?id=${encodeURIComponent(id)}`);
  $('#document').textContent = JSON.stringify(doc, null, 2);
}

async function removeDocument(id) {
  if (!confirm(`Delete document ${id}? This cannot be undone.`)) return;
  await api('document/delete', { method: 'POST', body: { id } });
  await loadTables();
  if (table) await loadDocuments(null);
}

// ---- Files

let fileCursor = null;
$('#files-next').addEventListener('click', () => loadFiles(fileCursor));

async function loadFiles(cursor) {
  const page = await api(`files${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
  fileCursor = page.cursor;
  $('#files-next').hidden = page.cursor === null;
  $('#files tbody').replaceChildren(
    ...page.files.map((file) =>
      el('tr', {},
        el('td', {}, file.id),
        el('td', {}, file.size),
        el('td', {}, file.contentType ?? ''),
        el('td', {}, el('code', {}, file.sha256)),
        el('td', {}, new Date(file.created).toISOString()),
        el('td', {},
          el('a', { href: `${BASE}files/download?id=${encodeURIComponent(file.id)}`, download: file.id }, 'Download'),
          ' ',
          el('button', { class: 'delete', onclick: () => removeFile(file.id) }, 'Delete'),
        ),
      ),
    ),
  );
}

async function removeFile(id) {
  if (!confirm(`Delete file ${id}? This cannot be undone.`)) return;
  await api('files/delete', { method: 'POST', body: { id } });
  await loadFiles(null);
}

// ---- Health

async function loadHealth() {
  const { health } = await api('overview');
  const rows = [
    ['Config hash', health.configHash],
    ['Code hash', health.codeHash],
    ['Config file', health.configFile],
    ['Uptime', `${health.uptimeSeconds} s`],
    ['Backend', health.backend],
    ['Storage', health.storage],
    ['Routes', health.routes],
    ['Functions', health.functions],
    ['Process', health.pid],
  ];
  $('#health').replaceChildren(...rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
  $('#reloads tbody').replaceChildren(
    ...health.reloads.reverse().map((raw) => {
      const line = JSON.parse(raw);
      return el('tr', { class: `level-${line.level}` }, el('td', {}, new Date(line.time).toISOString()), el('td', {}, line.event ?? 'start'), el('td', {}, el('pre', {}, line.msg)));
    }),
  );
}

start();
