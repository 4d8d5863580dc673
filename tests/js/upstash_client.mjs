// Exercises the local Upstash REST server with the real @upstash/redis client on the
// commands the edge functions use, and prints the results as JSON.
// Usage: node upstash_client.mjs <url> <token> <keyPrefix>
import { Redis } from '@upstash/redis'

const [url, token, p] = process.argv.slice(2)
const redis = new Redis({ url, token, automaticDeserialization: false })
const out = {}
out.ping = await redis.ping()
out.set = await redis.set(`${p}:k`, 'välue ✓')
out.get = await redis.get(`${p}:k`)
out.incr = await redis.incr(`${p}:n`)
out.pexpire = await redis.pexpire(`${p}:n`, 60000)
out.xadd = await redis.xadd(`${p}:s`, '*', { events: '[{"a":1}]', n: '1' })
out.xlen = await redis.xlen(`${p}:s`)
out.xrange = await redis.xrange(`${p}:s`, '-', '+')
out.eval = await redis.eval("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}", [`${p}:e`], ['x'])
const pipe = redis.pipeline()
pipe.incr(`${p}:pn`); pipe.incr(`${p}:pn`); pipe.get(`${p}:pn`)
out.pipeline = await pipe.exec()
const tx = redis.multi()
tx.set(`${p}:tx`, 'a'); tx.append(`${p}:tx`, 'b'); tx.get(`${p}:tx`)
out.multi = await tx.exec()
try { await redis.incr(`${p}:k`); out.errorReply = null } catch (e) { out.errorReply = String(e.message || e) }
try { await new Redis({ url, token: 'wrong' }).ping(); out.badToken = null } catch (e) { out.badToken = String(e.message || e) }
console.log(JSON.stringify(out))
