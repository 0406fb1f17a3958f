#!/usr/bin/env node
// A stock automerge-repo client for Kefu's end-to-end interop test (see README.md).
//
//   node client.mjs <scenario> --server http://127.0.0.1:PORT --username U --password P
//        [--team T] [--agent USER_ID] [--edit DOC_ID] [--defect phone|name|schema_version]
//        [--device-name NAME] [--timeout SECONDS]
//
// Scenarios:
//   create-and-edit  create a valid customer file (docs/schema.md §3), optionally add a
//                    contact (咨询记录) to the customer DOC_ID, and wait until the server's
//                    manifest shows both documents at this client's heads.
//   create-invalid   create a customer file that fails validation and wait (10 s at most) for
//                    the server's ephemeral {"kefu":"rejected"} message about it.
//
// Logs go to stderr. The last line on stdout is one JSON object; exit 0 on success,
// 1 with {"error": "..."} otherwise.

import { parseArgs } from "node:util"
import { randomBytes } from "node:crypto"
import { pathToFileURL } from "node:url"
import { Repo, decodeHeads } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const SCENARIOS = ["create-and-edit", "create-invalid"]
const DEFECTS = ["phone", "name", "schema_version"]
const REJECT_WAIT_MS = 10_000
const PEER_WAIT_MS = 10_000
const POLL_MS = 200

const log = (...args) => console.error("[kefu-js]", ...args)

// ---------------------------------------------------------------------------------------------
// Finishing: exactly one JSON line on stdout, then exit.

let repo = null
let finished = false

function finish(code, result) {
  if (finished) return
  finished = true
  if (repo) {
    try {
      repo.shutdown().catch(() => {})
    } catch (e) {
      log("shutdown:", e?.message ?? e)
    }
  }
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code))
  // In case stdout never drains (a closed pipe), do not hang.
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
// Small helpers.

const sleep = ms => new Promise(r => setTimeout(r, ms))

// Base58 (Bitcoin alphabet, no checksum), as Kefu's `ids::record_id` writes record ids.
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
export const recordId = () => base58(randomBytes(12))

const bareId = id => String(id).replace(/^automerge:/, "")
const hexHeads = handle => decodeHeads(handle.heads()).slice().sort()
function sameSet(a, b) {
  const x = [...a].sort()
  const y = [...b].sort()
  return x.length === y.length && x.every((h, i) => h === y[i])
}

// ---------------------------------------------------------------------------------------------
// HTTP API.

async function http(server, path, { method = "GET", token, body } = {}) {
  const headers = {}
  if (token) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers["content-type"] = "application/json"
  let res
  try {
    res = await fetch(new URL(path, server), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  } catch (e) {
    throw new Error(`cannot reach ${server} for ${method} ${path}: ${describe(e)}`)
  }
  const text = await res.text()
  if (!res.ok) {
    const what = res.status === 401 ? " (bad credentials or token)" : ""
    throw new Error(`${method} ${path} answered ${res.status}${what}: ${text.slice(0, 300)}`)
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new Error(`${method} ${path} answered ${res.status} with non-JSON: ${text.slice(0, 300)}`)
  }
}

async function login(server, username, password, deviceName) {
  const r = await http(server, "/api/v1/login", {
    method: "POST",
    body: { username, password, device_name: deviceName },
  })
  if (typeof r.token !== "string" || typeof r.user_id !== "string")
    throw new Error(`login answer lacks token or user_id: ${JSON.stringify(r)}`)
  return r
}

async function manifest(server, token) {
  const r = await http(server, "/api/v1/manifest", { token })
  if (!Array.isArray(r)) throw new Error(`manifest is not a JSON array: ${JSON.stringify(r).slice(0, 300)}`)
  const byId = new Map()
  for (const e of r) byId.set(bareId(e.document_id), e)
  return byId
}

// The last comparison made by waitForServerHeads, reported if the overall timeout strikes.
let lastComparison = null

// Polls the manifest until every wanted document is listed with exactly the wanted heads.
// `wanted`: Map document id -> function giving this client's current hex heads.
async function waitForServerHeads(server, token, wanted) {
  for (;;) {
    const m = await manifest(server, token)
    let all = true
    lastComparison = {}
    for (const [id, headsOf] of wanted) {
      const entry = m.get(id)
      const mine = headsOf()
      lastComparison[id] = { mine, server: entry ? entry.heads : null }
      if (!entry || !Array.isArray(entry.heads) || !sameSet(entry.heads, mine)) all = false
    }
    if (all) return m
    if (finished) throw new Error("finished while waiting for the manifest")
    await sleep(POLL_MS)
  }
}

// Resolves with the server's {"kefu":"rejected", ...} ephemeral message about `handle`.
function rejectionOf(handle) {
  return new Promise(resolve => {
    handle.on("ephemeral-message", ({ message, senderId }) => {
      log("ephemeral on", handle.documentId, "from", senderId, JSON.stringify(message))
      if (message && typeof message === "object" && message.kefu === "rejected") resolve(message)
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Kefu customer files (docs/schema.md §1 and §3; core/model/src/records/customer.rs).

// One consultation (咨询记录), schema §3.6: a value of the `contacts` map, keyed by a record id.
export function newContact({ at, channel, summary, by }) {
  return { at, channel, summary, by }
}

export function newCustomer({ team, agent, userId, now }) {
  const contactId = recordId()
  return {
    kind: "customer",
    schema_version: 1,
    team,
    profile: {
      name: `互通测试 ${recordId().slice(0, 6)}`,
      phones: ["138 0013 8000"],
      email: "interop@example.com",
      wechat: null,
      address: "上海市浦东新区锦绣路 1000 弄",
      district: "浦东新区",
      source: "phone",
    },
    classification: {
      category: "整体橱柜",
      intent: "unknown",
      stage: "lead",
      tags: ["automerge-repo"],
      notes: null,
    },
    assignment: {
      agent,
      field_staff: null,
      assigned_at: now,
      assigned_by: userId,
    },
    orders: {},
    contacts: {
      [contactId]: newContact({ at: now, channel: "phone", summary: "客户来电咨询整体橱柜（automerge-repo 客户端创建）", by: userId }),
    },
    callbacks: {},
    visits: {},
    complaints: {},
    created_at: now,
    created_by: userId,
  }
}

export function breakCustomer(doc, defect) {
  switch (defect) {
    case "phone": // readable, fails validation on profile.phones[0]
      doc.profile.phones = ["call me"]
      break
    case "name": // readable, fails validation on profile.name ("is required")
      doc.profile.name = "   "
      break
    case "schema_version": // readable, fails validation on schema_version (newer app)
      doc.schema_version = 2
      break
    default:
      throw new Error(`unknown defect ${defect}`)
  }
  return doc
}

// ---------------------------------------------------------------------------------------------
// Sync connection.

async function connect(server, token) {
  const url = new URL("/sync", server)
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  url.searchParams.set("token", token)
  const adapter = new WebSocketClientAdapter(url.toString())
  const peer = new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`no peer message from ${url.origin}/sync within ${PEER_WAIT_MS} ms`)),
      PEER_WAIT_MS,
    )
    adapter.once("peer-candidate", ({ peerId }) => {
      clearTimeout(t)
      resolve(peerId)
    })
  })
  repo = new Repo({ network: [adapter] }) // no storage: everything is in memory
  const serverPeer = await peer
  log("connected; server peer", serverPeer)
  return serverPeer
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

async function createAndEdit(opts, session) {
  const now = Date.now()
  const agent = opts.agent ?? session.user_id
  const created = repo.create(newCustomer({ team: opts.team, agent, userId: session.user_id, now }))
  const createdId = created.documentId
  // Fail fast, with the server's reason, if it refuses what this client sends.
  const refused = (id, handle) =>
    rejectionOf(handle).then(m => {
      throw new Error(`the server rejected the change to ${id}: ${m.reason ?? "(no reason)"}`)
    })
  const refusals = [refused(createdId, created)]
  log("created", createdId)

  let edited = null
  if (opts.edit) {
    const editId = bareId(opts.edit)
    log("finding", editId)
    edited = await Promise.race([repo.find(`automerge:${editId}`), ...refusals])
    refusals.push(refused(editId, edited))
    const doc = edited.doc()
    // Rust writes `kind` as a scalar string, which automerge 3 returns as an ImmutableString.
    if (String(doc?.kind) !== "customer")
      throw new Error(`document ${editId} is a ${JSON.stringify(doc?.kind)}, not a customer`)
    const contactId = recordId()
    edited.change(
      d => {
        if (d.contacts === undefined || d.contacts === null) d.contacts = {}
        d.contacts[contactId] = newContact({
          at: Date.now(),
          channel: "wechat",
          summary: "automerge-repo 客户端追加的咨询记录",
          by: session.user_id,
        })
      },
      {
        message: JSON.stringify({ user: session.user_id, device: session.device_id }),
        time: Math.floor(Date.now() / 1000),
      },
    )
    log("edited", editId, "added contact", contactId)
  }

  const wanted = new Map([[createdId, () => hexHeads(created)]])
  if (edited) wanted.set(edited.documentId, () => hexHeads(edited))
  await Promise.race([waitForServerHeads(opts.server, session.token, wanted), ...refusals])
  log("server has both at our heads")
  return {
    created: createdId,
    edited: edited ? edited.documentId : null,
    created_heads: hexHeads(created),
    edited_heads: edited ? hexHeads(edited) : null,
  }
}

async function createInvalid(opts, session) {
  const now = Date.now()
  const agent = opts.agent ?? session.user_id
  const defect = opts.defect ?? "phone"
  if (!DEFECTS.includes(defect)) throw new Error(`--defect must be one of ${DEFECTS.join(", ")}`)
  const record = breakCustomer(newCustomer({ team: opts.team, agent, userId: session.user_id, now }), defect)

  // repo.create only schedules the first sync message, so listening right after it misses nothing.
  const handle = repo.create(record)
  const id = handle.documentId
  const rejected = rejectionOf(handle)
  log("created invalid", id, "defect", defect)

  const message = await Promise.race([rejected, sleep(REJECT_WAIT_MS).then(() => null)])
  const m = await manifest(opts.server, session.token)
  return {
    invalid: id,
    defect,
    rejected: message !== null,
    reason: message ? String(message.reason ?? "") : null,
    hashes: message && Array.isArray(message.hashes) ? message.hashes.map(String) : null,
    heads: hexHeads(handle),
    in_manifest: m.has(id),
  }
}

// ---------------------------------------------------------------------------------------------
// Main.

async function main() {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        server: { type: "string" },
        username: { type: "string" },
        password: { type: "string" },
        team: { type: "string" },
        agent: { type: "string" },
        edit: { type: "string" },
        defect: { type: "string" },
        "device-name": { type: "string" },
        timeout: { type: "string" },
      },
    })
  } catch (e) {
    throw new Error(`bad arguments: ${e.message}`)
  }
  const opts = parsed.values
  const [scenario, ...extra] = parsed.positionals
  if (!SCENARIOS.includes(scenario) || extra.length)
    throw new Error(`usage: node client.mjs <${SCENARIOS.join("|")}> --server URL --username U --password P [--team T] [--agent ID] [--edit DOC_ID]`)
  for (const k of ["server", "username", "password", "team"])
    if (!opts[k]) throw new Error(`--${k} is required`)
  if (opts.edit && scenario !== "create-and-edit") throw new Error("--edit only applies to create-and-edit")
  const timeout = Number(opts.timeout ?? 60)
  if (!(timeout > 0)) throw new Error("--timeout must be a positive number of seconds")
  const last = () => (lastComparison ? `; last manifest comparison ${JSON.stringify(lastComparison)}` : "")
  setTimeout(() => fail(`timed out after ${timeout} s${last()}`), timeout * 1000)

  const server = new URL(opts.server).toString()
  opts.server = server
  const session = await login(server, opts.username, opts.password, opts["device-name"] ?? "kefu-js-interop")
  log("logged in as", session.user_id, "role", session.role, "device", session.device_id)
  await connect(server, session.token)

  const result = scenario === "create-and-edit" ? await createAndEdit(opts, session) : await createInvalid(opts, session)
  finish(0, result)
}

// Run only as a script; importing this file (record.test.mjs) just gives the builders.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // The WebSocket adapter throws from its socket's error listener (e.g. a refused upgrade).
  process.on("uncaughtException", e => {
    const m = describe(e)
    fail(/Unexpected server response/.test(m) ? `/sync WebSocket upgrade refused: ${m}` : `uncaught: ${m}`)
  })
  process.on("unhandledRejection", e => fail(`unhandled rejection: ${describe(e)}`))
  process.on("beforeExit", () => fail("nothing left to wait for, but the scenario did not finish"))
  main().catch(e => fail(describe(e)))
}
