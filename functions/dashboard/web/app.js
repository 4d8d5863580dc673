// The dashboard page: log in, pick a project and a range, and draw every Dashboard API
// answer (uPlot charts, with the numbers in a table beside each). Served by the dashboard
// function itself; bundled with esbuild at build time (see build.rs).
import uPlot from 'uplot'

const $ = (id) => document.getElementById(id)
const state = { keys: [], cursor: null, loads: 0 }
const charts = {}

function el (tag, attrs = {}, text) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  if (text !== undefined) e.textContent = String(text)
  return e
}

class ApiError extends Error {
  constructor (status, body) {
    super(body.message || `HTTP ${status}`)
    this.status = status
    this.body = body
  }
}

async function call (method, path, params = [], body) {
  const url = new URL(path, location.origin)
  for (const [k, v] of params) url.searchParams.append(k, v)
  const init = { method, credentials: 'same-origin', headers: {} }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const resp = await fetch(url, init)
  const json = await resp.json().catch(() => ({}))
  if (!resp.ok) throw new ApiError(resp.status, json)
  return json
}

// ---- range ----------------------------------------------------------------------------

const iso = (ms) => new Date(ms).toISOString().slice(0, 19)

function applyPreset () {
  const v = $('preset').value
  if (v === 'custom') return
  const to = Date.now()
  $('to').value = iso(to)
  $('from').value = iso(to - Number(v) * 86400000)
}

function rangeParams () {
  const p = [['from', $('from').value + 'Z'], ['to', $('to').value + 'Z']]
  if ($('project').value) p.push(['key', $('project').value])
  return p
}

// ---- drawing --------------------------------------------------------------------------

function table (id, columns, rows) {
  const t = $(id)
  t.replaceChildren()
  const head = el('tr')
  for (const c of columns) head.append(el('th', {}, c.label))
  t.append(head)
  for (const r of rows) {
    const tr = el('tr')
    for (const c of columns) {
      const v = c.get ? c.get(r) : r[c.key]
      tr.append(el('td', c.num ? { class: 'num', 'data-col': c.key } : { 'data-col': c.key }, v))
    }
    t.append(tr)
  }
}

function plot (id, opts, data) {
  if (charts[id]) charts[id].destroy()
  const box = $(id)
  box.replaceChildren()
  const width = Math.max(300, box.clientWidth || 600)
  charts[id] = new uPlot({ width, height: 220, ...opts }, data, box)
}

function bars (id, labels, values, label) {
  const xs = labels.map((_, i) => i)
  plot(id, {
    scales: { x: { time: false, range: [-0.5, Math.max(labels.length - 0.5, 0.5)] } },
    axes: [{ values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) && labels[t] !== undefined ? String(labels[t]).slice(0, 18) : '')) }, {}],
    series: [{}, { label, fill: 'rgba(47,111,235,0.5)', stroke: '#2f6feb', paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } }],
    legend: { show: false },
  }, [xs, values])
}

function tile (parent, metric, label, value, delta) {
  const t = el('div', { class: 'tile', 'data-metric': metric, 'data-value': value ?? '' })
  t.append(el('div', { class: 'value' }, value ?? '–'), el('div', { class: 'label' }, label))
  if (delta !== undefined) t.append(el('div', { class: 'delta' }, delta === null ? 'no previous data' : `${delta >= 0 ? '+' : ''}${(delta * 100).toFixed(1)}% vs previous period`))
  parent.append(t)
}

function timing (section, answer) {
  const card = $(section)
  let t = card.querySelector('.timing')
  if (!t) { t = el('div', { class: 'timing' }); card.append(t) }
  const tm = answer.timing
  t.textContent = `ClickHouse ${tm.clickhouse_ms ?? '?'} ms, ${tm.rows_read ?? '?'} rows read, round trip ${tm.round_trip_ms} ms${tm.cached ? ' (cached)' : ''}`
}

// ---- sections -------------------------------------------------------------------------

async function overview (p) {
  const a = await call('GET', '/api/overview', p)
  const box = $('overview-tiles')
  box.replaceChildren()
  tile(box, 'events', 'Events', a.totals.events, a.change.events)
  tile(box, 'users', 'Unique users', a.totals.users, a.change.users)
  tile(box, 'sessions', 'Sessions', a.totals.sessions, a.change.sessions)
  timing('overview', a)
}

async function timeseries (p) {
  const a = await call('GET', '/api/timeseries', [...p, ['by_event', '1']])
  const buckets = [...new Set(a.rows.map((r) => r.bucket))].sort((x, y) => x - y)
  const names = [...new Set(a.rows.map((r) => r.name))]
  const index = new Map(buckets.map((b, i) => [b, i]))
  const series = names.map((n) => {
    const ys = buckets.map(() => 0)
    for (const r of a.rows) if (r.name === n) ys[index.get(r.bucket)] = r.events
    return ys
  })
  const colors = ['#2f6feb', '#e5534b', '#57ab5a', '#c69026', '#986ee2']
  plot('timeseries-chart', { series: [{}, ...names.map((n, i) => ({ label: n || '(no name)', stroke: colors[i % colors.length] }))] }, [buckets, ...series])
  table('timeseries-table', [
    { key: 'bucket', label: 'Interval start (UTC)', get: (r) => new Date(r.bucket * 1000).toISOString() },
    { key: 'name', label: 'Event' },
    { key: 'events', label: 'Events', num: true },
  ], a.rows)
  timing('timeseries', a)
}

async function topList (name, p, labelKey, valueKey, columns) {
  const a = await call('GET', `/api/${name}`, [...p, ['limit', '10']])
  bars(`${name}-chart`, a.rows.map((r) => r[labelKey] || '(none)'), a.rows.map((r) => r[valueKey]), valueKey)
  table(`${name}-table`, columns, a.rows)
  timing(name, a)
  return a
}

async function sessions (p) {
  const a = await call('GET', '/api/sessions', p)
  const box = $('sessions-tiles')
  box.replaceChildren()
  tile(box, 'sessions', 'Sessions', a.totals.sessions)
  tile(box, 'median_seconds', 'Median length (s)', a.totals.median_seconds)
  tile(box, 'bounce_rate', 'Bounce rate', a.totals.bounce_rate)
  timing('sessions', a)
}

async function funnel (p) {
  const steps = $('funnel-steps').value.split(',').map((s) => s.trim()).filter(Boolean)
  if (steps.length < 2) { $('funnel-table').replaceChildren(); return }
  const a = await call('GET', '/api/funnel', [...p, ...steps.map((s) => ['step', s]), ['window', $('funnel-window').value || '3600']])
  const reached = a.totals.reached || []
  bars('funnel-chart', steps, reached, 'users')
  table('funnel-table', [{ key: 'step', label: 'Step' }, { key: 'users', label: 'Users', num: true }],
    steps.map((s, i) => ({ step: s, users: reached[i] ?? 0 })))
  timing('funnel', a)
}

async function events (p, more) {
  const f = [['type', $('events-type').value], ['event', $('events-event').value], ['user', $('events-user').value]].filter(([, v]) => v)
  if (more && state.cursor) f.push(['cursor', state.cursor])
  const a = await call('GET', '/api/events', [...p, ...f, ['limit', '50']])
  state.cursor = a.next_cursor
  $('events-more').disabled = !a.next_cursor
  const columns = [
    { key: 'ts_ms', label: 'Time (UTC)', get: (r) => new Date(r.ts_ms).toISOString() },
    { key: 'type', label: 'Type' }, { key: 'event', label: 'Event' }, { key: 'user_id', label: 'User' },
    { key: 'anonymous_id', label: 'Anonymous id' }, { key: 'page_path', label: 'Page' },
    { key: 'country', label: 'Country' }, { key: 'library_name', label: 'Library' }, { key: 'message_id', label: 'Message id' },
  ]
  table('events-table', columns, a.rows)
  timing('events', a)
}

async function refresh () {
  $('status').textContent = 'Loading…'
  const p = rangeParams()
  try {
    const top = await topList('top_events', p, 'event', 'events', [{ key: 'event', label: 'Event' }, { key: 'events', label: 'Events', num: true }, { key: 'users', label: 'Users', num: true }])
    if (!$('funnel-steps').value && top.rows.length >= 2) $('funnel-steps').value = top.rows.slice(0, 2).map((r) => r.event).join(', ')
    await Promise.all([
      overview(p), timeseries(p), sessions(p), funnel(p), events(p, false),
      topList('top_pages', p, 'page', 'views', [{ key: 'page', label: 'Page' }, { key: 'views', label: 'Views', num: true }, { key: 'users', label: 'Users', num: true }]),
      topList('top_referrers', p, 'referrer', 'views', [{ key: 'referrer', label: 'Referrer' }, { key: 'views', label: 'Views', num: true }]),
      topList('countries', p, 'country', 'events', [{ key: 'country', label: 'Country' }, { key: 'events', label: 'Events', num: true }, { key: 'users', label: 'Users', num: true }]),
    ])
    $('status').textContent = ''
    document.body.dataset.error = ''
  } catch (e) {
    if (e.status === 401) return showLogin(e.message)
    $('status').textContent = e.message
    document.body.dataset.error = e.message
  }
  document.body.dataset.loads = String(++state.loads)
}

// ---- session --------------------------------------------------------------------------

function showLogin (message) {
  $('dashboard-view').hidden = true
  $('logout').hidden = true
  $('whoami').textContent = ''
  $('login-view').hidden = false
  $('login-error').textContent = message || ''
  document.body.dataset.view = 'login'
}

function showDashboard (me) {
  state.keys = me.keys
  $('whoami').textContent = me.user
  const sel = $('project')
  sel.replaceChildren(el('option', { value: '' }, 'All projects'), ...me.keys.map((k) => el('option', { value: k }, k)))
  $('login-view').hidden = true
  $('dashboard-view').hidden = false
  $('logout').hidden = false
  document.body.dataset.view = 'dashboard'
  if (!$('from').value) applyPreset()
  return refresh()
}

async function start () {
  $('preset').addEventListener('change', applyPreset)
  for (const id of ['from', 'to']) $(id).addEventListener('input', () => { $('preset').value = 'custom' })
  $('range-form').addEventListener('submit', (e) => { e.preventDefault(); refresh() })
  $('funnel-form').addEventListener('submit', (e) => { e.preventDefault(); funnel(rangeParams()).catch((x) => { $('status').textContent = x.message }) })
  $('events-form').addEventListener('submit', (e) => { e.preventDefault(); events(rangeParams(), false).catch((x) => { $('status').textContent = x.message }) })
  $('events-more').addEventListener('click', () => events(rangeParams(), true).catch((x) => { $('status').textContent = x.message }))
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    try {
      await call('POST', '/api/login', [], { user: $('login-user').value, password: $('login-password').value })
      $('login-password').value = ''
      await showDashboard(await call('GET', '/api/me'))
    } catch (x) {
      $('login-error').textContent = x.message
    }
  })
  $('logout').addEventListener('click', async () => {
    await call('POST', '/api/logout').catch(() => {})
    showLogin('Logged out.')
  })
  try {
    await showDashboard(await call('GET', '/api/me'))
  } catch (x) {
    showLogin(x.status === 401 ? '' : x.message)
  }
}

start()
