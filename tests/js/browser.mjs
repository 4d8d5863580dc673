// Open a page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
// wait for window.__result, and print it with the page's console errors as JSON.
// Usage: node browser.mjs <url>
import { chromium } from 'playwright-core'

const [url] = process.argv.slice(2)
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
  page.on('requestfinished', (r) => requests.push(r.url()))
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url() + ' ' + (r.failure() && r.failure().errorText)))
  await page.goto(url)
  await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 30000 })
  await page.waitForTimeout(1000) // let in-flight deliveries finish
  const result = await page.evaluate(() => window.__result)
  console.log(JSON.stringify({ result, errors, requests }))
} finally {
  await browser.close()
}
