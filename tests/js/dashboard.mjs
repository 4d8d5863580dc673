// Drive the dashboard page in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core): log in, choose a project and a UTC range, apply, and print every
// number the page shows (tiles and the tables beside the charts) as JSON.
// Usage: node dashboard.mjs <dashboardUrl> <user> <password> <keyId> <fromIso> <toIso>
import { chromium } from 'playwright-core'

const [url, user, password, key, from, to] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
})
const errors = []
const requests = []
try {
  const page = await browser.newPage()
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('request', (r) => requests.push(r.url()))
  await page.goto(url)
  await page.waitForSelector('body[data-view="login"]', { timeout: 30000 })
  await page.fill('#login-user', user)
  await page.fill('#login-password', password)
  await page.click('#login-form button[type=submit]')
  await page.waitForSelector('body[data-view="dashboard"]', { timeout: 30000 })
  await page.waitForFunction(() => Number(document.body.dataset.loads || 0) >= 1, null, { timeout: 60000 })
  const cookies = await page.context().cookies()
  await page.selectOption('#project', key)
  await page.selectOption('#preset', 'custom')
  await page.fill('#from', from.replace(/Z$/, ''))
  await page.fill('#to', to.replace(/Z$/, ''))
  await page.fill('#funnel-steps', '')
  await page.click('#apply')
  await page.waitForFunction(() => Number(document.body.dataset.loads || 0) >= 2, null, { timeout: 60000 })
  const shown = await page.evaluate(() => {
    const tiles = (id) => Object.fromEntries([...document.querySelectorAll(`#${id} .tile`)].map((t) => [t.dataset.metric, t.dataset.value]))
    const table = (id) => [...document.querySelectorAll(`#${id} tr`)].slice(1).map((tr) =>
      Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent])))
    const charts = [...document.querySelectorAll('.chart canvas')].length
    return {
      error: document.body.dataset.error || '',
      overview: tiles('overview-tiles'),
      sessions: tiles('sessions-tiles'),
      top_events: table('top_events-table'),
      top_pages: table('top_pages-table'),
      top_referrers: table('top_referrers-table'),
      countries: table('countries-table'),
      timeseries: table('timeseries-table'),
      funnel: table('funnel-table'),
      funnel_steps: document.getElementById('funnel-steps').value,
      events: table('events-table'),
      charts,
    }
  })
  console.log(JSON.stringify({
    shown,
    errors,
    cookie: cookies.filter((c) => c.name === 'dash_session').map((c) => ({ httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite })),
    offsite: requests.filter((r) => !r.startsWith(url)),
  }))
} finally {
  await browser.close()
}
