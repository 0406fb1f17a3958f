// Offline cross-check of the records client.mjs writes (no server needed): `node --test`.
// Field names and required fields come from the Rust structs in
// core/model/src/records/customer.rs (read as text), enumerations and the example from
// docs/schema.md, and the automerge datatypes from the change that `repo.create` would make.

import { test } from "node:test"
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import * as Automerge from "@automerge/automerge"
import { newCustomer, newContact, breakCustomer, recordId } from "./client.mjs"

const root = new URL("../../", import.meta.url)
const schema = readFileSync(new URL("docs/schema.md", root), "utf8")
const rust = readFileSync(new URL("core/model/src/records/customer.rs", root), "utf8")

// struct name -> [{ name, required }]; required = not Option and no serde default.
function rustStruct(name) {
  const m = rust.match(new RegExp(`pub struct ${name} \\{([\\s\\S]*?)\\n\\}`))
  assert.ok(m, `struct ${name} not found in customer.rs`)
  const fields = []
  let defaulted = false
  for (const line of m[1].split("\n").map(l => l.trim())) {
    if (line.startsWith("#[serde(") && line.includes("default")) defaulted = true
    const f = line.match(/^pub (\w+): (.+),$/)
    if (f) {
      fields.push({ name: f[1], required: !defaulted && !f[2].startsWith("Option<") })
      defaulted = false
    }
  }
  return fields
}

function enumValues(name) {
  const m = schema.match(new RegExp(`<!-- enum: ${name} -->\\n\\| value[^\\n]*\\n\\|[-| ]*\\n((?:\\|[^\\n]*\\n)+)`))
  assert.ok(m, `enum ${name} not found in schema.md`)
  return m[1].trim().split("\n").map(r => r.match(/^\| `([^`]+)`/)[1])
}

const example = JSON.parse(schema.match(/<!-- example: customer -->\n```json\n([\s\S]*?)\n```/)[1])

const STRUCTS = [
  ["CustomerFile", r => r],
  ["Profile", r => r.profile],
  ["Classification", r => r.classification],
  ["Assignment", r => r.assignment],
  ["Contact", r => Object.values(r.contacts)[0]],
]

const now = Date.now()
const record = newCustomer({ team: "team-pudong", agent: "agent-li", userId: "agent-li", now })

const isTime = t => Number.isInteger(t) && t >= 946684800000 && t <= 7258118400000
const chars = s => [...s].length
const required = s => typeof s === "string" && s.trim() !== ""
const phoneOk = p => /^[0-9+\-() ]+$/.test(p) && (p.match(/[0-9]/g) ?? []).length >= 5 && (p.match(/[0-9]/g) ?? []).length <= 20

test("every key is a field of the Rust struct, and every required field is present", () => {
  for (const [name, pick] of STRUCTS) {
    const obj = pick(record)
    const fields = rustStruct(name)
    const known = new Set(fields.map(f => f.name))
    for (const k of Object.keys(obj)) assert.ok(known.has(k), `${name}: unknown key ${k}`)
    for (const f of fields.filter(f => f.required))
      assert.ok(obj[f.name] !== undefined && obj[f.name] !== null, `${name}: required ${f.name} missing`)
    // and the schema's example uses the same names
    const ex = pick(example)
    for (const k of Object.keys(obj)) assert.ok(k in ex, `${name}: ${k} not in the schema example`)
  }
})

test("root, enums, ids, times and text limits follow docs/schema.md §1 and §3", () => {
  assert.equal(record.kind, "customer")
  assert.ok(enumValues("DocKind").includes(record.kind))
  assert.equal(record.schema_version, 1)
  assert.ok(required(record.team) && chars(record.team) <= 64)
  assert.ok(required(record.created_by) && chars(record.created_by) <= 64)
  assert.ok(isTime(record.created_at))
  assert.ok(required(record.profile.name) && chars(record.profile.name) <= 100)
  assert.ok(record.profile.phones.every(phoneOk))
  assert.ok(record.profile.email.includes("@"))
  assert.ok(chars(record.profile.district) <= 64 && chars(record.profile.address) <= 300)
  assert.ok(enumValues("SourceChannel").includes(record.profile.source))
  assert.ok(enumValues("IntentLevel").includes(record.classification.intent))
  assert.ok(enumValues("PurchaseStage").includes(record.classification.stage))
  assert.ok(record.classification.tags.every(t => required(t) && chars(t) <= 32))
  // agent set => assigned_at required and plausible (§3.4)
  assert.equal(record.assignment.agent, "agent-li")
  assert.ok(isTime(record.assignment.assigned_at))
  for (const k of ["orders", "contacts", "callbacks", "visits", "complaints"])
    assert.ok(record[k] && typeof record[k] === "object" && !Array.isArray(record[k]), `${k} is a map`)
  const [[id, c]] = Object.entries(record.contacts)
  assert.match(id, /^[1-9A-HJ-NP-Za-km-z]{15,17}$/)
  assert.ok(isTime(c.at) && required(c.summary) && chars(c.summary) <= 2000 && required(c.by))
  assert.ok(enumValues("ContactChannel").includes(c.channel))
  const added = newContact({ at: now, channel: "wechat", summary: "x", by: "agent-li" })
  assert.deepEqual(Object.keys(added).sort(), Object.keys(c).sort())
  assert.ok(enumValues("ContactChannel").includes(added.channel))
})

test("record ids are base58 of 12 random bytes", () => {
  const ids = new Set(Array.from({ length: 200 }, recordId))
  assert.equal(ids.size, 200)
  for (const id of ids) assert.match(id, /^[1-9A-HJ-NP-Za-km-z]{1,17}$/)
})

test("automerge stores whole numbers as int and strings as text, never f64 or uint", () => {
  const doc = Automerge.from(record) // what repo.create(record) does
  const ops = Automerge.getAllChanges(doc).flatMap(ch => Automerge.decodeChange(ch).ops)
  const numbers = ops.filter(o => o.action === "set" && typeof o.value === "number")
  assert.ok(numbers.length >= 4)
  for (const o of numbers) assert.equal(o.datatype, "int", `${o.key}: ${o.datatype}`)
  assert.ok(!ops.some(o => o.datatype === "f64" || o.datatype === "uint"))
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), JSON.parse(JSON.stringify(record)))
})

test("each defect of create-invalid breaks exactly its rule and stays readable", () => {
  const fresh = () => newCustomer({ team: "team-pudong", agent: "agent-li", userId: "agent-li", now })
  const phone = breakCustomer(fresh(), "phone")
  assert.ok(!phoneOk(phone.profile.phones[0]))
  const name = breakCustomer(fresh(), "name")
  assert.ok(!required(name.profile.name))
  const version = breakCustomer(fresh(), "schema_version")
  assert.ok(Number.isInteger(version.schema_version) && version.schema_version > 1)
  // all still carry kind and every required key, so the server reads them and then validates
  for (const r of [phone, name, version]) assert.equal(r.kind, "customer")
})
