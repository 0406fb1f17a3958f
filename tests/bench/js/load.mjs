#!/usr/bin/env node
// Load generator for the benchmarks (issue 7): N phones, each a stock automerge-repo Repo
// (in-memory storage) with its own WebSocketClientAdapter, all in this one Node process, driving
// any server that speaks the automerge-repo network protocol v1: kefu-server or the reference
// server (reference-server.mjs). See ../README.md for what each number means.
//
//   node load.mjs --target kefu|reference --url URL --scenario S [--phones C] [--docs D]
//        [--edits E] [--credentials FILE] [--timeout SECONDS] [--interval-ms MS]
//        [--live-seconds S] [--window N]
//
//   --url          kefu: http://HOST:PORT (sign in with POST /api/v1/login, then
//                  ws://HOST:PORT/sync?token=…); reference: ws://HOST:PORT
//   --credentials  kefu only: a JSON file {"team": T, "supervisor": {"username", "password"},
//                  "agents": [{"username", "password"}, …]}; phone i signs in as agent
//                  i mod len(agents) (live: phone pair k as agent k mod len(agents)), each phone
//                  with a device of its own. Passwords never go on the command line.
//   --scenario     field-day | burst | reconnect | concurrent | live | fetch (see ../README.md)
//   --ids          fetch only: a JSON file with a list of document ids the server holds; one
//                  client (kefu: agent 0, who owns them) fetches the first, then --docs of them
//
// Logs go to stderr; phase boundaries are logged as `[bench] phase NAME start` and
// `[bench] phase NAME end MS` so a harness can sample the server between them. The LAST line
// on stdout is one JSON object (below); exit 0 on success, 1 with {"error": "..."} otherwise
// (including when --timeout strikes).

import { parseArgs } from "node:util"
import { randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { Repo, decodeHeads } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const SCENARIOS = ["field-day", "burst", "reconnect", "concurrent", "live", "fetch"]
const CONNECT_WAIT_MS = 30_000 // one phone's wait for the server's `peer` message
const POLL_MS = 10
const LOGIN_CONCURRENCY = 4
const CONNECT_CONCURRENCY = 64

const log = (...args) => console.error("[bench]", ...args)
const sleep = ms => new Promise(r => setTimeout(r, ms))
const tick = () => new Promise(r => setImmediate(r))
const now = () => performance.now()

// ---------------------------------------------------------------------------------------------
// Finishing: exactly one JSON line on stdout, then exit.

let finished = false
const allRepos = []

function finish(code, result) {
  if (finished) return
  finished = true
  for (const r of allRepos) {
    try {
      r.networkSubsystem.disconnect()
    } catch {
      // already disconnected
    }
  }
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code))
  setTimeout(() => process.exit(code), 2000).unref()
}

function fail(message) {
  log("error:", message)
  finish(1, { error: String(message) })
}

function describe(e) {
  if (e instanceof Error) {
    const c = e.cause
    const cause = c ? ` (${[c.code, c.message ?? String(c)].filter(Boolean).join(": ")})` : ""
    return `${e.message}${cause}`
  }
  return String(e)
}

// ---------------------------------------------------------------------------------------------
// Kefu customer files (docs/schema.md §1, §3). The builders follow tests/js/client.mjs
// (newCustomer, newContact, recordId); they are repeated here rather than imported so that this
// process loads exactly one copy of automerge-repo (importing client.mjs would resolve its
// packages from tests/js/node_modules).

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
function base58(bytes) {
  let n = 0n
  for (const b of bytes) n = n * 256n + BigInt(b)
  let out = ""
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out
    n /= 58n
  }
  for (const b of bytes) {
    if (b !== 0) break
    out = "1" + out
  }
  return out
}
const recordId = () => base58(randomBytes(12))

function newContact({ at, channel, summary, by }) {
  return { at, channel, summary, by }
}

function newCustomer({ team, agent, userId, now, n }) {
  return {
    kind: "customer",
    schema_version: 1,
    team,
    profile: {
      name: `压测客户 ${n} ${recordId().slice(0, 6)}`,
      phones: ["138 0013 8000"],
      email: "bench@example.com",
      wechat: null,
      address: "上海市浦东新区锦绣路 1000 弄",
      district: "浦东新区",
      source: "phone",
    },
    classification: {
      category: "整体橱柜",
      intent: "unknown",
      stage: "lead",
      tags: ["bench"],
      notes: null,
    },
    assignment: { agent, field_staff: null, assigned_at: now, assigned_by: userId },
    orders: {},
    contacts: {
      [recordId()]: newContact({ at: now, channel: "phone", summary: "客户来电咨询整体橱柜（压测）", by: userId }),
    },
    callbacks: {},
    visits: {},
    complaints: {},
    created_at: now,
    created_by: userId,
  }
}

const isoDate = ms => new Date(ms).toISOString().slice(0, 10)

// Edit number k of a document: a consultation (咨询记录), a scheduled callback (回访), or the
// completion of the callback scheduled before (an attempt, the `done` step and its outcome),
// in turn. Every edit only adds keys (docs/schema.md §1.6), so Kefu accepts it.
function applyEdit(phone, state, handle, k) {
  const t = Date.now()
  const by = phone.userId
  const kind = k % 3
  handle.change(
    d => {
      if (kind === 1) {
        const id = recordId()
        d.callbacks[id] = {
          scheduled_for: isoDate(t + 86_400_000),
          campaign: null,
          agent: by,
          method: "phone",
          steps: { scheduled: { at: t, by, note: null } },
          attempts: {},
          outcome: null,
          satisfaction: null,
          evaluation: null,
          suggestions: null,
          issue: null,
          follow_up_on: null,
          visit: null,
        }
        state.openCallback = id
      } else if (kind === 2 && state.openCallback && d.callbacks[state.openCallback]) {
        const cb = d.callbacks[state.openCallback]
        cb.attempts[recordId()] = { at: t, method: "phone", outcome: "satisfied", note: "客户满意", by }
        cb.steps.done = { at: t, by, note: null }
        cb.outcome = "satisfied"
        cb.satisfaction = 5
        cb.evaluation = "服务及时"
        state.openCallback = null
      } else {
        d.contacts[recordId()] = newContact({ at: t, channel: "wechat", summary: `第 ${k + 1} 次跟进：客户询问安装时间`, by })
      }
    },
    { message: JSON.stringify({ user: by, device: phone.deviceId }), time: Math.floor(t / 1000) },
  )
}

// ---------------------------------------------------------------------------------------------
// Bytes on the wire: the WebSocket message payloads this process sends and receives (the CBOR
// protocol messages; WebSocket framing, TCP/IP and the HTTP upgrade and API are not counted).
// Sent: the adapter's socket.send is wrapped on every socket it opens; received: every message
// passes through the adapter's receiveMessage.

const wire = { sent: 0, received: 0, sentMessages: 0, receivedMessages: 0 }

class CountingAdapter extends WebSocketClientAdapter {
  connect(peerId, peerMetadata) {
    super.connect(peerId, peerMetadata)
    const socket = this.socket
    if (socket && !socket.kefuCounted) {
      socket.kefuCounted = true
      const send = socket.send.bind(socket)
      socket.send = (data, ...rest) => {
        wire.sent += data.byteLength ?? data.length ?? 0
        wire.sentMessages += 1
        return send(data, ...rest)
      }
    }
  }

  receiveMessage(bytes) {
    wire.received += bytes.byteLength ?? 0
    wire.receivedMessages += 1
    super.receiveMessage(bytes)
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP (kefu only).

async function http(base, path, { method = "GET", token, body } = {}) {
  const headers = {}
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers["content-type"] = "application/json"
  let res
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    })
  } catch (e) {
    throw new Error(`cannot reach ${base} for ${method} ${path}: ${describe(e)}`)
  }
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`)
  return JSON.parse(text)
}

async function login(base, { username, password }, deviceName) {
  const r = await http(base, "/api/v1/login", { method: "POST", body: { username, password, device_name: deviceName } })
  if (typeof r.token !== "string" || typeof r.user_id !== "string") throw new Error(`login answer lacks token or user_id`)
  return r
}

// ---------------------------------------------------------------------------------------------
// Phones.

const hexHeads = handle => decodeHeads(handle.heads())
function sameSet(a, b) {
  if (!a || !b || a.length !== b.length) return false
  const x = [...a].sort()
  const y = [...b].sort()
  return x.every((h, i) => h === y[i])
}

let opts // parsed options, set in main
let deadline = Infinity // absolute performance.now() of --timeout
const rejections = [] // {doc, reason} from Kefu's {"kefu":"rejected"} notices

function checkDeadline(what) {
  if (finished) throw new Error("finished")
  if (now() > deadline) throw new Error(`timed out during ${what}`)
}

// A phone: one Repo in memory. `serverHeads` holds, per document, the heads the server announced
// in its latest sync message (the automerge sync state's `theirHeads`), which is how this
// generator knows the server has a phone's changes (see ../README.md, "acknowledged").
function newPhone(name, { userId, deviceId, wsUrl }) {
  const repo = new Repo({ network: [], sharePolicy: async () => true })
  allRepos.push(repo)
  const phone = {
    name,
    repo,
    userId,
    deviceId,
    wsUrl,
    adapter: null,
    connected: false,
    serverHeads: new Map(),
    touched: new Set(),
    docs: [],
  }
  repo.synchronizer.on("sync-state", ({ documentId, syncState }) => {
    if (syncState.theirHeads) {
      phone.serverHeads.set(documentId, syncState.theirHeads)
      phone.touched.add(documentId)
    }
  })
  return phone
}

function watchRejections(handle) {
  handle.on("ephemeral-message", ({ message }) => {
    if (message && typeof message === "object" && message.kefu === "rejected") {
      rejections.push({ doc: handle.documentId, reason: String(message.reason ?? "") })
      fail(`the server rejected a change to ${handle.documentId}: ${message.reason ?? "(no reason)"}`)
    }
  })
}

function connectPhone(phone) {
  const adapter = new CountingAdapter(phone.wsUrl)
  phone.adapter = adapter
  const peer = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${phone.name}: no peer message within ${CONNECT_WAIT_MS} ms`)), CONNECT_WAIT_MS)
    adapter.once("peer-candidate", () => {
      clearTimeout(t)
      phone.connected = true
      resolve()
    })
  })
  phone.repo.networkSubsystem.addNetworkAdapter(adapter)
  return peer
}

function disconnectPhone(phone) {
  if (phone.adapter) phone.repo.networkSubsystem.removeNetworkAdapter(phone.adapter)
  phone.adapter = null
  phone.connected = false
  phone.serverHeads.clear()
  phone.touched.clear()
}

// Runs `fn` over `items` with at most `limit` in flight; returns the results (or errors, with
// `settle`).
async function pool(items, limit, fn, { settle = false } = {}) {
  const out = new Array(items.length)
  let next = 0
  async function worker() {
    while (next < items.length) {
      const i = next++
      checkDeadline("a pooled step")
      try {
        out[i] = await fn(items[i], i)
      } catch (e) {
        if (!settle) throw e
        out[i] = e instanceof Error ? e : new Error(String(e))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

async function connectAll(phones, { settle = false } = {}) {
  return pool(phones, CONNECT_CONCURRENCY, p => connectPhone(p), { settle })
}

// Waits until the server announced, for every document of every phone, exactly that phone's heads.
// Event-driven: after one full pass, a document is checked again only when a sync-state event
// touched it (`phone.touched`), so waiting costs the load generator next to nothing.
async function waitAcknowledged(phones, what) {
  let pending = []
  for (const p of phones) {
    p.touched.clear()
    for (const h of p.docs) pending.push([p, h])
  }
  pending = pending.filter(([p, h]) => !sameSet(p.serverHeads.get(h.documentId), hexHeads(h)))
  const left = new Map(phones.map(p => [p, new Map()]))
  for (const [p, h] of pending) left.get(p).set(h.documentId, h)
  let count = pending.length
  while (count > 0) {
    if (now() > deadline) {
      const [p, docs] = [...left].find(([, m]) => m.size > 0)
      const h = [...docs.values()][0]
      throw new Error(
        `timed out during ${what}: ${count} documents not acknowledged, e.g. ${h.documentId} of ${p.name}: ` +
          `ours ${JSON.stringify(hexHeads(h))}, server ${JSON.stringify(p.serverHeads.get(h.documentId) ?? null)}`,
      )
    }
    if (finished) throw new Error("finished")
    await sleep(POLL_MS)
    for (const [p, docs] of left) {
      if (docs.size === 0 || p.touched.size === 0) continue
      const touched = [...p.touched]
      p.touched.clear()
      for (const id of touched) {
        const h = docs.get(id)
        if (h && sameSet(p.serverHeads.get(id), hexHeads(h))) {
          docs.delete(id)
          count -= 1
        }
      }
    }
  }
}

// Waits until `handle` has exactly `heads`: checked on each of its change events and every 250 ms.
async function waitHeads(handle, heads, what) {
  if (sameSet(hexHeads(handle), heads)) return
  await new Promise((resolve, reject) => {
    let timer = null
    const check = () => {
      if (sameSet(hexHeads(handle), heads)) done(null)
      else if (finished || now() > deadline) done(new Error(`timed out during ${what}`))
    }
    const done = err => {
      handle.off("change", check)
      clearInterval(timer)
      if (err) reject(err)
      else resolve()
    }
    handle.on("change", check)
    timer = setInterval(check, 250)
  })
}

// ---------------------------------------------------------------------------------------------
// Phases: timed, logged for the harness, bytes per phase.

const phases = {}
const phaseBytes = {}
async function phase(name, fn) {
  log(`phase ${name} start`)
  const sent = wire.sent
  const received = wire.received
  const sentMessages = wire.sentMessages
  const receivedMessages = wire.receivedMessages
  const t0 = now()
  const r = await fn()
  const ms = Math.round((now() - t0) * 10) / 10
  phases[name] = ms
  phaseBytes[name] = {
    sent: wire.sent - sent,
    received: wire.received - received,
    messages_sent: wire.sentMessages - sentMessages,
    messages_received: wire.receivedMessages - receivedMessages,
  }
  log(`phase ${name} end ${ms}`)
  return r
}

// ---------------------------------------------------------------------------------------------
// Setting up phones for a target.

let kefuSupervisor = null

function readCredentials() {
  if (opts.target !== "kefu") return null
  if (!opts.credentials) throw new Error("--credentials FILE is required for --target kefu")
  const c = JSON.parse(readFileSync(opts.credentials, "utf8"))
  if (!Array.isArray(c.agents) || c.agents.length === 0) throw new Error("credentials: agents must be a non-empty list")
  if (!c.supervisor) throw new Error("credentials: supervisor is required")
  if (typeof c.team !== "string") throw new Error("credentials: team is required")
  return c
}

function wsUrlFor(session) {
  if (opts.target === "reference") return opts.url
  const url = new URL("/sync", opts.url)
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  url.searchParams.set("token", session.token)
  return url.toString()
}

// accountOf(i): index of the agent account phone i signs in as.
async function makePhones(count, creds, accountOf) {
  const specs = Array.from({ length: count }, (_, i) => i)
  if (opts.target === "reference") {
    return specs.map(i => {
      const a = accountOf(i)
      return newPhone(`phone-${i}`, { userId: `agent-${a}`, deviceId: `bench-phone-${i}`, wsUrl: opts.url })
    })
  }
  const sessions = await pool(specs, LOGIN_CONCURRENCY, i =>
    login(opts.url, creds.agents[accountOf(i) % creds.agents.length], `bench-phone-${i}`),
  )
  return sessions.map((s, i) => newPhone(`phone-${i}`, { userId: s.user_id, deviceId: s.device_id, wsUrl: wsUrlFor(s) }))
}

async function makeSupervisor(creds) {
  if (opts.target === "reference") return newPhone("supervisor", { userId: "supervisor", deviceId: "bench-supervisor", wsUrl: opts.url })
  const s = await login(opts.url, creds.supervisor, "bench-supervisor")
  kefuSupervisor = s
  return newPhone("supervisor", { userId: s.user_id, deviceId: s.device_id, wsUrl: wsUrlFor(s) })
}

function teamOf(creds) {
  return creds ? creds.team : "bench"
}

// Each phone creates `docs` customer files, then makes `edits` rounds of edits over them (round
// r edits every file once), yielding to the event loop between files so the sync runs alongside.
async function work(phone, team, docs, edits) {
  const states = []
  for (let d = 0; d < docs; d++) {
    const t = Date.now()
    const h = phone.repo.create(newCustomer({ team, agent: phone.userId, userId: phone.userId, now: t, n: d }))
    watchRejections(h)
    phone.docs.push(h)
    states.push({ openCallback: null })
    await tick()
  }
  for (let k = 0; k < edits; k++) {
    for (let d = 0; d < docs; d++) {
      applyEdit(phone, states[d], phone.docs[d], k)
      await tick()
    }
  }
}

// Kefu: one manifest request as the supervisor confirms that the server lists every document at
// exactly the heads the phones acknowledged (the manifest lists committed heads). Not timed in
// wall_ms.
async function verifyManifest(expected) {
  if (opts.target !== "kefu" || !kefuSupervisor) return
  for (;;) {
    const m = await http(opts.url, "/api/v1/manifest", { token: kefuSupervisor.token })
    const byId = new Map(m.map(e => [String(e.document_id).replace(/^automerge:/, ""), e.heads]))
    const bad = [...expected].filter(([id, heads]) => !sameSet(byId.get(id), heads))
    if (bad.length === 0) return
    if (now() > deadline) throw new Error(`manifest check: ${bad.length} documents not at the phones' heads, e.g. ${bad[0][0]}`)
    await sleep(200)
  }
}

// A fresh supervisor-side client finds every document and waits until it has `expected` heads.
async function supervisorPull(sup, expected) {
  await connectPhone(sup)
  const ids = [...expected.keys()]
  await pool(ids, opts.window, async id => {
    const h = await sup.repo.find(`automerge:${id}`, { signal: AbortSignal.timeout(Math.max(1, Math.floor(deadline - now()))) })
    await waitHeads(h, expected.get(id), `the pull of ${id}`)
  })
}

function expectedHeads(phones) {
  const m = new Map()
  for (const p of phones) for (const h of p.docs) m.set(h.documentId, hexHeads(h))
  return m
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Each returns { wall: [phase names counted in wall_ms], docs, extra }.

async function fieldDay(creds) {
  const { phones: C, docs: D, edits: E } = opts
  const team = teamOf(creds)
  const phones = await phase("login", () => makePhones(C, creds, i => i))
  const sup = await phase("login_supervisor", () => makeSupervisor(creds))
  await phase("connect", () => connectAll(phones))
  await phase("upload", async () => {
    await Promise.all(phones.map(p => work(p, team, D, E)))
    await waitAcknowledged(phones, "the upload")
  })
  const expected = expectedHeads(phones)
  await phase("verify_manifest", () => verifyManifest(expected))
  for (const p of phones) disconnectPhone(p)
  await phase("pull", () => supervisorPull(sup, expected))
  return { wall: ["connect", "upload", "pull"], docs: C * D }
}

async function burst(creds) {
  const { phones: C, docs: D, edits: E } = opts
  const team = teamOf(creds)
  const phones = await phase("login", () => makePhones(C, creds, i => i))
  const sup = await phase("login_supervisor", () => makeSupervisor(creds))
  await phase("offline_work", () => Promise.all(phones.map(p => work(p, team, D, E))))
  await phase("upload", async () => {
    await connectAll(phones)
    await waitAcknowledged(phones, "the burst upload")
  })
  const expected = expectedHeads(phones)
  await phase("verify_manifest", () => verifyManifest(expected))
  for (const p of phones) disconnectPhone(p)
  await phase("pull", () => supervisorPull(sup, expected))
  return { wall: ["upload", "pull"], docs: C * D }
}

async function reconnect(creds) {
  const { phones: C, docs: D, edits: E } = opts
  const team = teamOf(creds)
  const phones = await phase("login", () => makePhones(C, creds, i => i))
  await phase("setup", async () => {
    await connectAll(phones)
    await Promise.all(phones.map(p => work(p, team, D, E)))
    await waitAcknowledged(phones, "the setup upload")
  })
  const expected = expectedHeads(phones)
  await phase("verify_manifest", async () => {
    if (opts.target === "kefu") {
      await makeSupervisor(creds) // signs in only; the manifest is read over HTTP
      await verifyManifest(expected)
    }
  })
  // The phones restart: each new Repo (a new peer id, as after an app restart) loads the same
  // documents, as the app would from its storage, with no saved sync state.
  const restarted = await phase("restart", () =>
    Promise.all(
      phones.map(async p => {
        const binaries = await Promise.all(p.docs.map(async h => [h.documentId, await p.repo.export(h.documentId)]))
        disconnectPhone(p)
        const q = newPhone(p.name, { userId: p.userId, deviceId: p.deviceId, wsUrl: p.wsUrl })
        q.docs = binaries.map(([docId, bytes]) => q.repo.import(bytes, { docId }))
        return q
      }),
    ),
  )
  await sleep(500) // let the server notice the closed sockets
  await phase("reconnect", async () => {
    await connectAll(restarted)
    await waitAcknowledged(restarted, "the reconnect")
  })
  // Nothing new: every phone's heads are still the ones the server had.
  const after = expectedHeads(restarted)
  for (const [id, heads] of expected) if (!sameSet(after.get(id), heads)) throw new Error(`${id} changed during reconnect`)
  return { wall: ["reconnect"], docs: C * D }
}

async function concurrent(creds) {
  const { docs: D, edits: E } = opts
  if (opts.phones !== 2) throw new Error("the concurrent scenario uses exactly 2 phones (--phones 2)")
  const team = teamOf(creds)
  // Both phones are devices of one agent: only the assigned agent may write a customer file.
  const [a, b] = await phase("login", () => makePhones(2, creds, () => 0))
  await phase("setup", async () => {
    await connectAll([a, b])
    await work(a, team, D, 0)
    await waitAcknowledged([a], "the setup upload")
    const heads = expectedHeads([a])
    b.docs = await pool(a.docs, opts.window, async h => {
      const hb = await b.repo.find(h.documentId, { signal: AbortSignal.timeout(Math.max(1, Math.floor(deadline - now()))) })
      await waitHeads(hb, heads.get(h.documentId), "phone b's copy")
      watchRejections(hb)
      return hb
    })
  })
  disconnectPhone(a)
  disconnectPhone(b)
  await phase("offline_work", async () => {
    for (const [p, intent] of [
      [a, "high"],
      [b, "medium"],
    ]) {
      for (const h of p.docs) {
        const state = { openCallback: null }
        for (let k = 0; k < E; k++) applyEdit(p, state, h, k)
        // The same field on both phones: a conflict Kefu keeps and counts.
        h.change(
          d => {
            d.classification.intent = intent
          },
          { message: JSON.stringify({ user: p.userId, device: p.deviceId }), time: Math.floor(Date.now() / 1000) },
        )
        await tick()
      }
    }
  })
  await phase("reconcile", async () => {
    await connectAll([a, b])
    for (;;) {
      let done = true
      for (let i = 0; i < D && done; i++) {
        const ha = hexHeads(a.docs[i])
        done =
          sameSet(ha, hexHeads(b.docs[i])) &&
          sameSet(a.serverHeads.get(a.docs[i].documentId), ha) &&
          sameSet(b.serverHeads.get(b.docs[i].documentId), ha)
      }
      if (done) break
      checkDeadline("the reconciliation")
      await sleep(5 * POLL_MS)
    }
  })
  await phase("verify_manifest", async () => {
    if (opts.target === "kefu") {
      await makeSupervisor(creds)
      await verifyManifest(expectedHeads([a]))
    }
  })
  return { wall: ["reconcile"], docs: D }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null
  const rank = Math.ceil((p / 100) * sorted.length)
  return Math.round(sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] * 10) / 10
}

// Phone pairs (2k, 2k+1) each share one customer file (kefu: two devices of one agent); the
// pair's phones take turns adding a consultation to it, and the time from `handle.change` on one
// to the `change` event that shows it on the other is one latency sample.
async function live(creds) {
  const { phones: C, edits: E } = opts
  if (C < 2 || C % 2 !== 0) throw new Error("the live scenario needs an even number of phones, at least 2")
  const team = teamOf(creds)
  const phones = await phase("login", () => makePhones(C, creds, i => Math.floor(i / 2)))
  const results = await phase("connect", () => connectAll(phones, { settle: true }))
  const connected = results.filter(r => !(r instanceof Error)).length
  const failures = results.filter(r => r instanceof Error)
  if (failures.length) log(`${failures.length} phones did not connect, e.g. ${failures[0].message}`)
  const pairs = []
  for (let k = 0; k + 1 < C; k += 2) if (phones[k].connected && phones[k + 1].connected) pairs.push([phones[k], phones[k + 1]])
  if (pairs.length === 0) throw new Error("no pair of phones connected")

  await phase("setup", async () => {
    await pool(pairs, CONNECT_CONCURRENCY, async ([a, b]) => {
      await work(a, team, 1, 0)
    })
    await waitAcknowledged(
      pairs.map(([a]) => a),
      "the live setup upload",
    )
    await pool(pairs, CONNECT_CONCURRENCY, async ([a, b]) => {
      const h = a.docs[0]
      const hb = await b.repo.find(h.documentId, { signal: AbortSignal.timeout(Math.max(1, Math.floor(deadline - now()))) })
      await waitHeads(hb, hexHeads(h), "the live setup copy")
      watchRejections(hb)
      b.docs.push(hb)
    })
  })

  const samples = []
  let lost = 0
  let sent = 0
  const liveEnd = Math.min(deadline - 5_000, now() + opts["live-seconds"] * 1000)
  const perEditMs = 10_000
  await phase("edits", () =>
    Promise.all(
      pairs.map(async ([a, b], k) => {
        await sleep((k * 37) % Math.max(1, opts["interval-ms"])) // spread the pairs over the interval
        for (let r = 0; r < E && now() < liveEnd; r++) {
          const [from, to] = r % 2 === 0 ? [a, b] : [b, a]
          const id = recordId()
          const target = to.docs[0]
          let t0 = 0
          const arrived = new Promise(resolve => {
            const onChange = ({ doc }) => {
              if (doc?.contacts?.[id]) {
                target.off("change", onChange)
                clearTimeout(timer)
                resolve(now() - t0)
              }
            }
            const timer = setTimeout(() => {
              target.off("change", onChange)
              resolve(null)
            }, perEditMs)
            target.on("change", onChange)
          })
          t0 = now()
          from.docs[0].change(
            d => {
              d.contacts[id] = newContact({ at: Date.now(), channel: "phone", summary: `实时同步测试 ${r}`, by: from.userId })
            },
            { message: JSON.stringify({ user: from.userId, device: from.deviceId }), time: Math.floor(Date.now() / 1000) },
          )
          sent += 1
          const ms = await arrived
          if (ms === null) lost += 1
          else samples.push(ms)
          await sleep(opts["interval-ms"])
        }
      }),
    ),
  )
  samples.sort((x, y) => x - y)
  return {
    wall: ["edits"],
    docs: null,
    extra: {
      connected,
      pairs: pairs.length,
      edits_sent: sent,
      edits_delivered: samples.length,
      edits_lost: lost,
      latency_p50_ms: percentile(samples, 50),
      latency_p99_ms: percentile(samples, 99),
      latency_max_ms: samples.length ? Math.round(samples[samples.length - 1] * 10) / 10 : null,
      edits_per_s: phases.edits > 0 ? Math.round((samples.length / phases.edits) * 1000 * 10) / 10 : null,
    },
  }
}

// A store that is already full (store-100k): one client fetches one document (the first
// answer after a cold start), then `docs` documents, 64 in flight. Kefu: the agent first reads
// its manifest (every document it may hold) over HTTP, as a phone does before it syncs.
async function fetchScenario(creds) {
  if (!opts.ids) throw new Error("--ids FILE is required for the fetch scenario")
  const ids = JSON.parse(readFileSync(opts.ids, "utf8"))
  if (!Array.isArray(ids) || ids.length === 0) throw new Error("--ids: a non-empty list of document ids")
  const [phone] = await phase("login", () => makePhones(1, creds, () => 0))
  const extra = {}
  if (opts.target === "kefu") {
    const token = new URL(phone.wsUrl).searchParams.get("token")
    const m = await phase("manifest", async () => {
      const res = await fetch(new URL("/api/v1/manifest", opts.url), { headers: { authorization: `Bearer ${token}` } })
      const body = await res.arrayBuffer()
      if (!res.ok) throw new Error(`manifest answered ${res.status}`)
      return { bytes: body.byteLength, entries: JSON.parse(Buffer.from(body).toString("utf8")).length }
    })
    extra.manifest_entries = m.entries
    extra.manifest_bytes = m.bytes
  }
  await phase("connect", () => connectPhone(phone))
  const find = async id => {
    const h = await phone.repo.find(`automerge:${id}`, { signal: AbortSignal.timeout(Math.max(1, Math.floor(deadline - now()))) })
    const d = h.doc()
    // Scalar strings (as Rust writes them) read as ImmutableString objects in automerge 3.
    if (!d || String(d.kind) !== "customer") throw new Error(`${id}: not a customer file`)
  }
  await phase("first", () => find(ids[0]))
  const wanted = ids.slice(1, 1 + opts.docs)
  await phase("fetch", () => pool(wanted, opts.window, find))
  extra.fetched = wanted.length + 1
  return { wall: ["first", "fetch"], docs: wanted.length + 1, extra }
}

// ---------------------------------------------------------------------------------------------
// Main.

async function main() {
  try {
    opts = parseArgs({
      options: {
        target: { type: "string" },
        url: { type: "string" },
        scenario: { type: "string" },
        phones: { type: "string", default: "20" },
        docs: { type: "string", default: "50" },
        edits: { type: "string", default: "5" },
        credentials: { type: "string" },
        timeout: { type: "string", default: "300" },
        "interval-ms": { type: "string", default: "200" },
        "live-seconds": { type: "string", default: "60" },
        window: { type: "string", default: "64" },
        ids: { type: "string" },
      },
    }).values
  } catch (e) {
    throw new Error(`bad arguments: ${e.message}`)
  }
  if (!["kefu", "reference"].includes(opts.target)) throw new Error("--target must be kefu or reference")
  if (!SCENARIOS.includes(opts.scenario)) throw new Error(`--scenario must be one of ${SCENARIOS.join(", ")}`)
  if (!opts.url) throw new Error("--url is required")
  const scheme = new URL(opts.url).protocol
  if (opts.target === "kefu" && !["http:", "https:"].includes(scheme)) throw new Error("--url for kefu is http://HOST:PORT")
  if (opts.target === "reference" && !["ws:", "wss:"].includes(scheme)) throw new Error("--url for the reference is ws://HOST:PORT")
  for (const k of ["phones", "docs", "edits", "timeout", "interval-ms", "live-seconds", "window"]) {
    const n = Number(opts[k])
    if (!Number.isInteger(n) || n < 0 || (k !== "edits" && n === 0)) throw new Error(`--${k} must be a positive whole number`)
    opts[k] = n
  }
  setTimeout(() => fail(`timed out after ${opts.timeout} s (phases so far ${JSON.stringify(phases)})`), opts.timeout * 1000).unref()
  deadline = now() + opts.timeout * 1000
  const creds = readCredentials()

  const run = { "field-day": fieldDay, burst, reconnect, concurrent, live, fetch: fetchScenario }[opts.scenario]
  const r = await run(creds)
  const wallMs = Math.round(r.wall.reduce((s, name) => s + (phases[name] ?? 0), 0) * 10) / 10
  const extra = r.extra ?? {}
  finish(0, {
    client: "js",
    target: opts.target,
    scenario: opts.scenario,
    phones: opts.phones,
    docs: opts.scenario === "live" ? 1 : opts.docs,
    edits: opts.edits,
    wall_ms: wallMs,
    wall_phases: r.wall,
    docs_per_s: r.docs && wallMs > 0 ? Math.round((r.docs / wallMs) * 1000 * 10) / 10 : null,
    ws_bytes_sent: wire.sent,
    ws_bytes_received: wire.received,
    ws_messages_sent: wire.sentMessages,
    ws_messages_received: wire.receivedMessages,
    latency_p50_ms: extra.latency_p50_ms ?? null,
    latency_p99_ms: extra.latency_p99_ms ?? null,
    phases,
    phase_bytes: phaseBytes,
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => !k.startsWith("latency_p"))),
  })
}

process.on("uncaughtException", e => {
  const m = describe(e)
  fail(/Unexpected server response/.test(m) ? `/sync WebSocket upgrade refused: ${m}` : `uncaught: ${m}`)
})
process.on("unhandledRejection", e => fail(`unhandled rejection: ${describe(e)}`))
main().catch(e => fail(describe(e)))
