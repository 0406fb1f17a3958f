// Tests of the generated Kotlin bindings (app.kefu.core) against a real kefu-server, run on a
// plain JVM for both flavours: the same source is compiled against kefu-jvm.jar and against
// kefu-android.jar (bindings/build-kotlin.sh) and run by tests/bindings/test_kotlin.py.
//
// No JUnit here: main() runs each named test in order and prints `PASS name` or
// `FAIL name: reason`, then `kotlin-<flavour>: N passed, N failed`; the exit code is 1 on any
// failure. The program starts and stops the server itself (the phone's server going away and
// coming back), always stopping it before it exits.
//
// Arguments (or the environment variables in brackets):
//   1. the kefu-server binary                       [KEFU_SERVER_BIN]
//   2. a data directory that has the users agent1 (agent), field1 (field), sup (supervisor),
//      team 一组, password kefu-test-pass-1          [KEFU_DATA_DIR]
//   3. the port to serve on (127.0.0.1)             [KEFU_PORT]
//   4. a scratch directory for the phones' stores   [KEFU_SCRATCH_DIR]
//   5. the flavour name, `jvm` or `android`         [KEFU_FLAVOUR]
// The JVM needs -Djna.library.path=<dir of libkefu.so>.
package app.kefu.bindingstest

import app.kefu.core.Classification
import app.kefu.core.Kefu
import app.kefu.core.KefuException
import app.kefu.core.AttachmentSource
import app.kefu.core.NewLeave
import app.kefu.core.NewVisit
import app.kefu.core.Profile
import app.kefu.core.RecordStatus
import app.kefu.core.SyncListener
import app.kefu.core.UploadProgress
import app.kefu.core.SyncState
import app.kefu.core.choices
import app.kefu.core.libraryVersion
import app.kefu.core.uniffiEnsureInitialized
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import java.io.File
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.charset.StandardCharsets
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess

const val PASSWORD = "kefu-test-pass-1"
const val TEAM = "一组"

/** Longest any one library call may take before the test fails. */
const val CALL_TIMEOUT_MS = 60_000L

class TestFailure(message: String) : Exception(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw TestFailure(message())
}

/** Runs a suspend call of the bindings on this thread, bounded by [CALL_TIMEOUT_MS]. */
fun <T> call(block: suspend CoroutineScope.() -> T): T =
    runBlocking { withTimeout(CALL_TIMEOUT_MS) { block() } }

/** The exception [block] throws, failing when it throws nothing or something else. */
inline fun <reified E : Throwable> expectThrows(what: String, block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw TestFailure("$what: expected ${E::class.simpleName}, got ${e::class.qualifiedName}: ${e.message}")
    }
    throw TestFailure("$what: expected ${E::class.simpleName}, nothing was thrown")
}

/** Polls [condition] every 100 ms until it holds, failing after [timeoutMs]. */
fun waitUntil(what: String, timeoutMs: Long, condition: () -> Boolean) {
    val deadline = System.nanoTime() + timeoutMs * 1_000_000
    while (!condition()) {
        if (System.nanoTime() > deadline) throw TestFailure("timed out after ${timeoutMs / 1000} s waiting for $what")
        Thread.sleep(100)
    }
}

/** A kefu-server process on 127.0.0.1 that can be stopped and started again (same port, data). */
class Server(private val bin: File, private val data: File, val port: Int, private val log: File) {
    private var proc: Process? = null
    val url = "http://127.0.0.1:$port"
    val running: Boolean get() = proc?.isAlive == true

    fun start(timeoutMs: Long = 30_000) {
        check(proc == null) { "the server is already running" }
        val pb = ProcessBuilder(bin.path, "serve", "--listen", "127.0.0.1:$port", "--data", data.path)
            .redirectError(ProcessBuilder.Redirect.appendTo(log))
            .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
        pb.environment()["RUST_LOG"] = "warn"
        val p = pb.start()
        proc = p
        val ready = CountDownLatch(1)
        // Reads stdout to its end (so the server never blocks on a full pipe), noting readiness.
        Thread({
            p.inputStream.bufferedReader().useLines { lines ->
                for (line in lines) {
                    if (line.startsWith("listening on ")) ready.countDown()
                }
            }
        }, "kefu-server-stdout").apply { isDaemon = true }.start()
        val deadline = System.nanoTime() + timeoutMs * 1_000_000
        while (!ready.await(100, TimeUnit.MILLISECONDS)) {
            if (!p.isAlive) {
                proc = null
                throw TestFailure("kefu-server exited with ${p.exitValue()} before listening; see $log")
            }
            if (System.nanoTime() > deadline) {
                stop()
                throw TestFailure("kefu-server did not print `listening on` within ${timeoutMs / 1000} s; see $log")
            }
        }
    }

    /** SIGTERM (graceful), then a kill if it has not ended in 15 s. Does nothing when stopped. */
    fun stop() {
        val p = proc ?: return
        proc = null
        p.destroy()
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
            p.destroyForcibly()
            p.waitFor(10, TimeUnit.SECONDS)
        }
    }
}

/** The supervisor's view through the JSON API. */
class Api(private val server: Server) {
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()

    fun send(method: String, path: String, token: String?, body: String?): Pair<Int, String> {
        val b = HttpRequest.newBuilder(URI.create(server.url + path)).timeout(Duration.ofSeconds(30))
        if (token != null) b.header("Authorization", "Bearer $token")
        if (body != null) {
            b.header("Content-Type", "application/json")
            b.method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody())
        }
        val r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))
        return r.statusCode() to r.body()
    }

    fun login(username: String): String {
        val body = """{"username":"$username","password":"$PASSWORD","device_name":"kotlin test api"}"""
        val (status, text) = send("POST", "/api/v1/login", null, body)
        check(status == 200) { "POST /api/v1/login as $username answered $status: $text" }
        return Regex(""""token"\s*:\s*"([^"]+)"""").find(text)?.groupValues?.get(1)
            ?: throw TestFailure("no token in the login answer: $text")
    }

    fun get(path: String, token: String): String {
        val (status, text) = send("GET", path, token, null)
        check(status == 200) { "GET $path answered $status: $text" }
        return text
    }
}

/** What the tests share: the server, the agent's phone and the customer made offline. */
class Context(val server: Server, val scratch: File, val flavour: String) {
    val api = Api(server)
    var agent: Kefu? = null
    var agentId: String? = null
    var fieldId: String? = null
    var customerId: String? = null
    val customerName = "张秀英"

    fun agent(): Kefu = agent ?: throw TestFailure("no signed-in agent store (offlineThenSync did not get that far)")
    fun customer(): String = customerId ?: throw TestFailure("no customer (offlineThenSync did not create it)")

    fun close() {
        agent?.close()
        agent = null
    }
}

// ---- the tests ---------------------------------------------------------------------------------

/** The integrity check first: a stale library fails here, loudly. Then the plain calls. */
fun integrity(ctx: Context) {
    uniffiEnsureInitialized()
    val version = libraryVersion()
    check(Regex("""\d+\.\d+\.\d+.*""").matches(version)) { "libraryVersion() = \"$version\"" }
    val reasons = choices("visit_reason")
    val codes = reasons.map { it.code }
    check("repair" in codes && "installation" in codes) { "visit_reason codes: $codes" }
    check(reasons.all { it.label.isNotBlank() }) { "a blank label in $reasons" }
    check(reasons.first { it.code == "repair" }.label == "维修") { "repair's label: $reasons" }
    val e = expectThrows<KefuException.InvalidInput>("choices(\"nope\")") { choices("nope") }
    check(e.field == "kind") { "choices(\"nope\") names field \"${e.field}\", expected \"kind\"" }
}

/** The store's objects use the cleaner of the flavour: java.lang.ref.Cleaner on the JVM,
 *  android.system.SystemCleaner (the stub, SDK_INT 34) in the Android flavour. */
fun cleanerOfFlavour(ctx: Context) {
    val expected = when (ctx.flavour) {
        "jvm" -> "JavaLangRefCleanable"
        "android" -> "AndroidSystemCleanable"
        else -> throw TestFailure("unknown flavour ${ctx.flavour}")
    }
    val k = Kefu.open(File(ctx.scratch, "cleaner-check.kefu").path)
    try {
        val field = Kefu::class.java.getDeclaredField("cleanable").apply { isAccessible = true }
        val cleanable = field.get(k) ?: throw TestFailure("Kefu.cleanable is null")
        check(cleanable.javaClass.simpleName == expected) {
            "Kefu's cleanable is ${cleanable.javaClass.name}, expected $expected for the ${ctx.flavour} flavour"
        }
    } finally {
        k.close()
    }
}

/** Sign in, work while the server is stopped, fail to sync without losing anything, sync when
 *  it is back, and see it all accepted and on the supervisor's API. */
fun offlineThenSync(ctx: Context) {
    val server = ctx.server
    server.start()
    val agent = Kefu.open(File(ctx.scratch, "agent1.kefu").path)
    ctx.agent = agent
    val session = call { agent.signIn(server.url, "agent1", PASSWORD, "kotlin test") }
    check(session.role == "agent" && session.team == TEAM && session.userId.isNotBlank()) { "agent1's session: $session" }
    check(call { agent.session() }?.userId == session.userId) { "session() does not return the sign-in" }
    ctx.agentId = session.userId

    // field1's user id, from field1's own sign-in on a second phone.
    Kefu.open(File(ctx.scratch, "field1.kefu").path).use { field ->
        val s = call { field.signIn(server.url, "field1", PASSWORD, "kotlin test field") }
        check(s.role == "field") { "field1's session: $s" }
        ctx.fieldId = s.userId
    }
    val fieldId = ctx.fieldId!!

    server.stop()
    check(!server.running) { "the server is still running" }

    val doc = call {
        agent.createCustomer(
            Profile(
                name = ctx.customerName,
                phones = listOf("13800138000"),
                email = null,
                wechat = null,
                address = "北京市朝阳区建国路88号",
                district = "朝阳区",
                source = "phone",
            ),
            Classification(category = "空调", intent = "high", stage = "negotiating", tags = listOf("新客户"), notes = null),
        )
    }
    ctx.customerId = doc
    val contactId = call { agent.logContact(doc, "phone", "咨询空调安装，约定上门") }
    val now = System.currentTimeMillis()
    val visitId = call {
        agent.dispatchVisit(doc, NewVisit("WO-KT-${ctx.flavour}-1", "installation", fieldId, now + 3_600_000, now + 3 * 3_600_000))
    }
    val file = call { agent.customer(doc) }
    check(file.profile.name == ctx.customerName && file.agent == ctx.agentId) { "the customer file: $file" }
    check(file.contacts.any { it.id == contactId && it.channel == "phone" }) { "contact $contactId missing: ${file.contacts}" }
    check(file.visits.any { it.id == visitId && it.staff == fieldId && it.reason == "installation" }) {
        "visit $visitId missing: ${file.visits}"
    }

    val outbox = call { agent.outbox() }
    check(outbox.isNotEmpty() && outbox.all { it.docId == doc }) { "outbox while offline: $outbox" }
    val status = call { agent.recordStatus(doc) }
    check(status == RecordStatus.Local) { "recordStatus while offline is $status, expected Local" }

    expectThrows<KefuException.Network>("syncOnce() with the server stopped") { call { agent.syncOnce() } }
    val after = call { agent.outbox() }
    check(after.map { it.hash } == outbox.map { it.hash }) { "the failed sync changed the outbox: $outbox -> $after" }
    check(call { agent.customer(doc) }.visits.any { it.id == visitId }) { "the visit is gone after the failed sync" }

    server.start()
    val report = call { agent.syncOnce() }
    check(report.rejected == 0u && report.accepted >= 1u) { "sync report: $report" }
    val left = call { agent.outbox() }
    check(left.isEmpty()) { "outbox after sync: $left" }
    val synced = call { agent.recordStatus(doc) }
    check(synced == RecordStatus.Accepted) { "recordStatus after sync is $synced, expected Accepted" }

    // The supervisor sees it through the JSON API.
    val token = ctx.api.login("sup")
    val q = URLEncoder.encode(ctx.customerName, StandardCharsets.UTF_8)
    val list = ctx.api.get("/api/v1/customers?q=$q", token)
    check(list.contains("\"doc_id\":\"$doc\"") && list.contains(ctx.customerName)) {
        "GET /api/v1/customers?q=… does not list $doc: $list"
    }
    val record = ctx.api.get("/api/v1/customers/$doc", token)
    for (needle in listOf(visitId, contactId, fieldId, "WO-KT-${ctx.flavour}-1", "13800138000", "咨询空调安装")) {
        check(record.contains(needle)) { "GET /api/v1/customers/$doc lacks \"$needle\": $record" }
    }
}

/** An agent may not reassign: the server refuses, the phone shows why and can set it aside. */
fun rejectedChangeShowsReason(ctx: Context) {
    val agent = ctx.agent()
    val doc = ctx.customer()
    check(ctx.server.running) { "the server is not running" }
    call { agent.assignCustomer(doc, "someone-else", null) }
    check(call { agent.customer(doc) }.agent == "someone-else") { "the local edit did not apply" }
    val report = call { agent.syncOnce() }
    check(report.rejected >= 1u) { "sync report after an agent's reassignment: $report" }
    val status = call { agent.recordStatus(doc) }
    val reason = (status as? RecordStatus.Rejected)?.reason
        ?: throw TestFailure("recordStatus after the refusal is $status, expected Rejected")
    check(reason.isNotBlank()) { "the refusal has a blank reason" }

    val n = call { agent.setAsideRejected(doc) }
    check(n >= 1u) { "setAsideRejected returned $n" }
    val aside = call { agent.setAside(doc) }
    check(aside.any { it.docId == doc && it.reason == reason }) { "setAside($doc) = $aside, expected the reason \"$reason\"" }
    check(call { agent.setAside(null) }.any { it.docId == doc }) { "setAside(null) does not list $doc" }
    val after = call { agent.recordStatus(doc) }
    check(after !is RecordStatus.Rejected) { "recordStatus after setAsideRejected is still $after" }
    check(call { agent.customer(doc) }.agent == ctx.agentId) { "the record did not go back to the server's assignment" }
}

/** Background sync reports its states from a library thread, pushes on syncNow, stops. */
fun listenerOnBackgroundThread(ctx: Context) {
    val agent = ctx.agent()
    val doc = ctx.customer()
    val testThread = Thread.currentThread()
    val seen = CopyOnWriteArrayList<Pair<SyncState, Thread>>()
    val uploads = CopyOnWriteArrayList<UploadProgress>()
    val listener = object : SyncListener {
        override fun onStatus(state: SyncState) {
            seen.add(state to Thread.currentThread())
        }

        override fun onUpload(progress: UploadProgress) {
            uploads.add(progress)
        }
    }
    fun states() = seen.map { it.first }
    val handle = agent.startSync(listener)
    try {
        check(handle.isRunning()) { "isRunning() is false right after startSync" }
        waitUntil("an Idle state (seen: ${states()})", 20_000) { states().any { it is SyncState.Idle } }
        check(states().any { it is SyncState.Connecting }) { "no Connecting state before Idle: ${states()}" }

        val contactId = call { agent.logContact(doc, "wechat", "微信确认上门时间") }
        handle.syncNow()
        waitUntil("the outbox to empty after syncNow", 20_000) { call { agent.outbox() }.isEmpty() }
        check(call { agent.recordStatus(doc) } == RecordStatus.Accepted) { "the new contact was not accepted" }
        val token = ctx.api.login("sup")
        val record = ctx.api.get("/api/v1/customers/$doc", token)
        check(record.contains(contactId)) { "the server lacks contact $contactId pushed by background sync" }

        // Evidence goes up through its own queue: a sick-leave certificate attached as bytes.
        val today = java.time.LocalDate.now(java.time.ZoneId.of("Asia/Shanghai"))
        val filed = call { agent.requestLeave(NewLeave("sick", today.toString(), today.plusDays(1).toString(), "发烧", false)) }
        val scan = ByteArray(600_000) { (it % 251).toByte() }
        val cert = call { agent.attachCertificate(filed.docId, filed.id, AttachmentSource.Bytes(scan), "application/pdf") }
        handle.syncNow()
        waitUntil("the certificate's upload to finish (heard: $uploads)", 20_000) {
            uploads.any { it.sha256 == cert.sha256 && it.state == "uploaded" }
        }
        val queue = call { agent.uploads() }
        check(queue.map { Triple(it.label, it.state, it.percent.toInt()) } == listOf(Triple("certificate", "uploaded", 100))) {
            "upload queue after sync: $queue"
        }

        handle.stop()
        waitUntil("a Stopped state (seen: ${states()})", 10_000) { states().any { it is SyncState.Stopped } }
        check(!handle.isRunning()) { "isRunning() is true after stop()" }
        val onTestThread = seen.filter { it.second === testThread }.map { it.first }
        check(onTestThread.isEmpty()) { "states delivered on the test's own thread ${testThread.name}: $onTestThread" }
        val threads = seen.map { it.second.name }.toSet()
        println("  listener heard ${states().map { it::class.simpleName }} on threads $threads")
    } finally {
        handle.stop()
        handle.close()
    }
}

/** Bad input is refused with the field to correct, and nothing is written. */
fun invalidInput(ctx: Context) {
    val agent = ctx.agent()
    val before = call { agent.outbox() }
    fun profile(name: String, source: String) =
        Profile(name = name, phones = listOf("13900139000"), email = null, wechat = null, address = null, district = null, source = source)
    val empty = expectThrows<KefuException.InvalidInput>("createCustomer with an empty name") {
        call { agent.createCustomer(profile("", "phone"), null) }
    }
    check(empty.field.contains("name")) { "the empty name is reported on field \"${empty.field}\" (${empty.message})" }
    val badSource = expectThrows<KefuException.InvalidInput>("createCustomer with source \"nope\"") {
        call { agent.createCustomer(profile("李建国", "nope"), null) }
    }
    check(badSource.field == "source") { "the bad source is reported on field \"${badSource.field}\", expected \"source\"" }
    check(call { agent.outbox() } == before) { "a refused input wrote something: ${call { agent.outbox() }}" }
    check(call { agent.searchCustomers("李建国", 10u) }.isEmpty()) { "a customer was created from bad input" }
}

// ---- the runner ----------------------------------------------------------------------------------

fun arg(args: Array<String>, i: Int, env: String): String =
    args.getOrNull(i) ?: System.getenv(env)
        ?: throw IllegalArgumentException("argument ${i + 1} (or \$$env) is missing; see the head of BindingsTest.kt")

fun main(args: Array<String>) {
    val code = try {
        run(args)
    } catch (e: IllegalArgumentException) {
        System.err.println("BindingsTest: ${e.message}")
        2
    }
    System.out.flush()
    // The library's runtime threads must not keep the JVM alive.
    exitProcess(code)
}

fun run(args: Array<String>): Int {
    val bin = File(arg(args, 0, "KEFU_SERVER_BIN"))
    val data = File(arg(args, 1, "KEFU_DATA_DIR"))
    val port = arg(args, 2, "KEFU_PORT").toIntOrNull() ?: throw IllegalArgumentException("the port is not a number")
    val scratch = File(arg(args, 3, "KEFU_SCRATCH_DIR"))
    val flavour = arg(args, 4, "KEFU_FLAVOUR")
    require(bin.canExecute()) { "$bin is not an executable kefu-server" }
    require(data.isDirectory) { "$data is not a data directory" }
    require(flavour == "jvm" || flavour == "android") { "the flavour is \"$flavour\", expected jvm or android" }
    scratch.mkdirs()

    val server = Server(bin, data, port, File(scratch, "server.log"))
    // Also stops the server when the JVM is killed (e.g. by the caller's timeout).
    val hook = Thread { server.stop() }
    Runtime.getRuntime().addShutdownHook(hook)
    val ctx = Context(server, scratch, flavour)
    val tests: List<Pair<String, (Context) -> Unit>> = listOf(
        "integrity" to ::integrity,
        "cleanerOfFlavour" to ::cleanerOfFlavour,
        "offlineThenSync" to ::offlineThenSync,
        "rejectedChangeShowsReason" to ::rejectedChangeShowsReason,
        "listenerOnBackgroundThread" to ::listenerOnBackgroundThread,
        "invalidInput" to ::invalidInput,
    )
    var passed = 0
    var failed = 0
    try {
        var integrityFailed = false
        for ((name, test) in tests) {
            if (integrityFailed) {
                println("FAIL $name: not run, the integrity check failed")
                failed++
                continue
            }
            val start = System.nanoTime()
            try {
                test(ctx)
                println("PASS $name (${(System.nanoTime() - start) / 1_000_000} ms)")
                passed++
            } catch (e: Throwable) {
                val reason = when (e) {
                    is TestFailure -> e.message
                    else -> generateSequence(e) { it.cause }.joinToString(", caused by ") { "${it::class.qualifiedName}: ${it.message}" }
                }
                println("FAIL $name: $reason")
                if (e !is TestFailure) e.printStackTrace(System.out)
                failed++
                if (name == "integrity") integrityFailed = true
            }
            System.out.flush()
        }
    } finally {
        try {
            ctx.close()
        } finally {
            server.stop()
        }
    }
    println("kotlin-$flavour: $passed passed, $failed failed")
    return if (failed == 0) 0 else 1
}
