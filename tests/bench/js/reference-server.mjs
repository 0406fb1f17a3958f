#!/usr/bin/env node
// The reference automerge-repo sync server for the benchmarks (issue 7), set up the way a user
// runs @automerge/automerge-repo-sync-server: one Repo with a WebSocket server adapter on a `ws`
// WebSocketServer and the Node file-system storage adapter on a data directory. The server does
// not announce documents to its peers (sharePolicy false, as the stock sync server does); it
// syncs the documents a peer asks for or sends, and pushes their later changes to every peer
// that has them open. See ../README.md.
//
//   node reference-server.mjs --port PORT --data DIR [--share-policy false|true]
//
// Listens on 127.0.0.1 only (port 0 picks a free port) and prints exactly one line on stdout
// when ready: `listening on ws://127.0.0.1:PORT`. SIGTERM or SIGINT: stop accepting, close the
// sockets, flush the Repo to disk (so the measured storage is complete), exit 0.

import { parseArgs } from "node:util"
import { mkdirSync } from "node:fs"
import { hostname } from "node:os"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const log = (...a) => console.error("[reference-server]", ...a)

function die(message) {
  log("error:", message)
  process.exit(2)
}

let opts
try {
  opts = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      data: { type: "string" },
      "share-policy": { type: "string", default: "false" },
    },
  }).values
} catch (e) {
  die(`bad arguments: ${e.message}`)
}
const port = Number(opts.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) die("--port must be 0..65535")
if (!opts.data) die("--data DIR is required")
if (!["true", "false"].includes(opts["share-policy"])) die("--share-policy must be true or false")
const share = opts["share-policy"] === "true"
mkdirSync(opts.data, { recursive: true })

const wss = new WebSocketServer({ host: "127.0.0.1", port })
const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(opts.data),
  peerId: `storage-server-${hostname()}`,
  sharePolicy: async () => share,
})

wss.on("error", e => die(`WebSocket server: ${e.message}`))
wss.on("listening", () => {
  const { port: bound } = wss.address()
  process.stdout.write(`listening on ws://127.0.0.1:${bound}\n`)
  log(`data ${opts.data}, sharePolicy ${share}`)
})

let stopping = false
async function stop(signal) {
  if (stopping) return
  stopping = true
  log(`${signal}: stopping`)
  // Bounded: a stuck flush must not keep the process alive.
  setTimeout(() => {
    log("flush did not finish within 30 s; exiting anyway")
    process.exit(1)
  }, 30_000).unref()
  for (const socket of wss.clients) socket.terminate()
  await new Promise(resolve => wss.close(() => resolve()))
  try {
    await repo.flush()
    await repo.shutdown()
  } catch (e) {
    log("flush:", e?.message ?? e)
  }
  log("stopped")
  process.exit(0)
}
process.on("SIGTERM", () => void stop("SIGTERM"))
process.on("SIGINT", () => void stop("SIGINT"))
