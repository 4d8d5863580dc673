// Sends one of each call through the unmodified @segment/analytics-node SDK pointed at the
// collector, then prints what it sent (messageIds included) and any delivery errors as JSON.
// Usage: node analytics_node.mjs <collectorUrl> <writeKey> <userId> [trackTimestampIso]
import { Analytics } from '@segment/analytics-node'

const [url, writeKey, userId, trackAt] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host: url, maxEventsInBatch: 20, flushInterval: 200, maxRetries: 2 })
const errors = []
const responses = []
analytics.on('error', (e) => errors.push(String(e && (e.reason || e.message || e.code) || e)))
analytics.on('http_request', (r) => responses.push({ url: r.url, method: r.method, body: r.body }))

const ts = new Date(trackAt || '2024-05-01T10:00:00.000Z')
const sent = []
const call = (method, params) => { sent.push({ method, ...params }); analytics[method](params) }
call('track', { userId, messageId: `${userId}-track`, event: 'Order Completed', timestamp: ts,
  properties: { revenue: 19.99, currency: 'EUR', products: [{ sku: 'X', qty: 1 }] },
  context: { campaign: { source: 'newsletter' } }, integrations: { Mixpanel: false } })
call('identify', { userId, messageId: `${userId}-identify`, traits: { email: 'x@example.com', plan: 'pro' } })
call('page', { userId, messageId: `${userId}-page`, name: 'Pricing', category: 'Docs', properties: { url: 'https://e.x/p' } })
call('screen', { userId, messageId: `${userId}-screen`, name: 'Checkout' })
call('group', { userId, messageId: `${userId}-group`, groupId: 'acme', traits: { employees: 12 } })
call('alias', { userId, messageId: `${userId}-alias`, previousId: 'anon-7' })
await analytics.closeAndFlush({ timeout: 20000 })
console.log(JSON.stringify({ sent, errors, requests: responses.length }))
