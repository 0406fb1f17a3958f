// Server memory per sync connection and per followed document (docs/performance.md, lesson 19).
//
//   target/release/kefu-server demo --data DIR --listen 127.0.0.1:PORT   # once, to seed; then
//   _RJEM_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0 \
//     target/release/kefu-server serve --data DIR --listen 127.0.0.1:PORT &
//   node tests/bench/js/conn-memory.mjs http://127.0.0.1:PORT SERVER_PID [N=1000] [K=5]
//
// Signs in as the demo supervisor, has one client fetch every document (so the server's
// document cache is warm and stays so), then opens N stock automerge-repo clients on one token
// and has each fetch K documents, one round at a time, printing the server's VmRSS (from
// /proc/SERVER_PID/status) after each step. With jemalloc's decay at 0, freed pages go back at
// once and the RSS follows the live heap. Loopback only; it ends in bounded time (each round
// waits for every fetch, the script for at most its N·K fetches).
import { readFileSync } from "node:fs"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const [base, pid] = [process.argv[2], process.argv[3]]
const n = Number(process.argv[4] ?? 1000)
const k = Number(process.argv[5] ?? 5)
if (!base || !pid) {
  console.error("usage: node conn-memory.mjs http://HOST:PORT SERVER_PID [N] [K]")
  process.exit(2)
}
const status = () => readFileSync(`/proc/${pid}/status`, "utf8")
const rss = () => (Number(status().match(/VmRSS:\s+(\d+)/)[1]) / 1024).toFixed(1)
const sleep = ms => new Promise(r => setTimeout(r, ms))

const login = await fetch(new URL("/api/v1/login", base), {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ username: "supervisor", password: "kefu-demo-1", device_name: "conn-memory" }),
})
if (!login.ok) throw new Error(`sign-in answered ${login.status}: ${await login.text()}`)
const { token } = await login.json()
const man = await fetch(new URL("/api/v1/manifest", base), { headers: { authorization: `Bearer ${token}` } })
if (!man.ok) throw new Error(`manifest answered ${man.status}`)
const ids = (await man.json()).map(e => e.document_id)
console.log(`${ids.length} documents; server RSS at rest ${rss()} MiB`)
const url = new URL(`/sync?token=${token}`, base)
url.protocol = "ws:"

const warm = new Repo({ network: [new WebSocketClientAdapter(url.toString())], sharePolicy: async () => true })
await Promise.all(ids.map(id => warm.find(`automerge:${id}`)))
await sleep(3000)
console.log(`one client fetched all: ${rss()} MiB`)

const repos = []
for (let i = 0; i < n; i++) {
  repos.push(new Repo({ network: [new WebSocketClientAdapter(url.toString())], sharePolicy: async () => true }))
  if (i % 50 === 49) await sleep(20)
}
await sleep(3000)
console.log(`${n} clients joined: ${rss()} MiB`)
for (let j = 0; j < k; j++) {
  await Promise.all(repos.map((r, i) => r.find(`automerge:${ids[(i * k + j) % ids.length]}`)))
  await sleep(2000)
  console.log(`each fetched ${j + 1}: ${rss()} MiB`)
}
process.exit(0)
