#!/usr/bin/env node
// Fills the reference server's storage with exactly the documents the Kefu seeder made
// (store-100k, ../README.md): reads the export of `bench-seed --export FILE` (u32 id length,
// id, u32 bytes length, automerge bytes; little-endian) and saves each document through the
// real NodeFSStorageAdapter under the key automerge-repo itself uses for a compacted document,
// [documentId, "snapshot", headsHash(heads)], so the reference server loads it as its own.
//
//   node seed-reference.mjs --from FILE --data DIR
//
// Progress every 10,000 documents on stderr; the last stdout line is a JSON summary.

import { parseArgs } from "node:util"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import * as A from "@automerge/automerge"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const { values: opts } = parseArgs({ options: { from: { type: "string" }, data: { type: "string" } } })
if (!opts.from || !opts.data) {
  console.error("usage: node seed-reference.mjs --from FILE --data DIR")
  process.exit(2)
}

// The same hash as automerge-repo's storage/keyHash.js headsHash: SHA-256 of the heads'
// UTF-8 bytes, one after the other, as hex.
function headsHash(heads) {
  const h = createHash("sha256")
  for (const head of heads) h.update(head, "utf8")
  return h.digest("hex")
}

const started = performance.now()
const buf = readFileSync(opts.from)
const storage = new NodeFSStorageAdapter(opts.data)
let at = 0
let n = 0
let pending = []
while (at < buf.length) {
  const idLen = buf.readUInt32LE(at)
  const id = buf.subarray(at + 4, at + 4 + idLen).toString("utf8")
  at += 4 + idLen
  const len = buf.readUInt32LE(at)
  const bytes = new Uint8Array(buf.subarray(at + 4, at + 4 + len))
  at += 4 + len
  const heads = A.getHeads(A.load(bytes))
  pending.push(storage.save([id, "snapshot", headsHash(heads)], bytes))
  n += 1
  if (pending.length >= 256) {
    await Promise.all(pending)
    pending = []
  }
  if (n % 10_000 === 0) console.error(`seed-reference: ${n} documents, ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
await Promise.all(pending)
console.log(JSON.stringify({ documents: n, seconds: (performance.now() - started) / 1000 }))
