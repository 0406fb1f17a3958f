// Kefu mobile demo: the phone app of a 客服 department's field staff and callback agents on
// the generated Kotlin bindings (package app.kefu.core), in a terminal.
//
//   run.sh --store PATH [--server URL --user NAME] [--device NAME] [--no-sync]
//   run.sh --store PATH --script sign-in|field-day|agent-day|sync|live-sync [--server URL --user NAME]
//          [--photo FILE]... [--signature FILE]
//
// The password comes from KEFU_PASSWORD, or is asked for (interactive mode only).
@file:JvmName("KefuDemo")

package app.kefu.demo

import kotlinx.coroutines.runBlocking
import java.net.InetAddress
import kotlin.system.exitProcess

const val USAGE = """usage: run.sh --store PATH [--server URL] [--user NAME] [--device NAME] [--no-sync] [--script STEP]
              [--photo FILE]... [--signature FILE]
  --store PATH    the phone's store file (created when missing)
  --server URL    the Kefu server to sign in to (e.g. http://127.0.0.1:8080)
  --user NAME     the user to sign in as; the password comes from KEFU_PASSWORD or is asked for
  --device NAME   the device name to register (default: mobile-demo NAME@HOST)
  --no-sync       interactive mode without the background sync (work offline)
  --script STEP   run one scripted step and exit: sign-in, field-day, agent-day, sync, live-sync
  --photo FILE    field-day: a photo of the work (jpg/png) to attach to every visit; repeatable
  --signature FILE  field-day: the customer's signature (an image) to put on every visit"""

class UsageError(message: String) : Exception(message)

data class Args(
    val store: String,
    val server: String?,
    val user: String?,
    val device: String?,
    val script: String?,
    val backgroundSync: Boolean,
    val photos: List<String> = emptyList(),
    val signature: String? = null,
)

fun parseArgs(argv: Array<String>): Args {
    var store: String? = null
    var server: String? = null
    var user: String? = null
    var device: String? = null
    var script: String? = null
    var sync = true
    val photos = mutableListOf<String>()
    var signature: String? = null
    var i = 0
    fun value(name: String): String {
        if (i + 1 >= argv.size) throw UsageError("$name needs a value")
        i += 1
        return argv[i]
    }
    while (i < argv.size) {
        when (val a = argv[i]) {
            "--store" -> store = value(a)
            "--server" -> server = value(a)
            "--user" -> user = value(a)
            "--device" -> device = value(a)
            "--script" -> script = value(a)
            "--no-sync" -> sync = false
            "--photo" -> photos += value(a)
            "--signature" -> signature = value(a)
            "-h", "--help" -> throw UsageError("")
            else -> throw UsageError("unknown argument $a")
        }
        i += 1
    }
    if (store == null) throw UsageError("--store PATH is required")
    if (script != null && script !in STEPS) throw UsageError("unknown step $script (one of ${STEPS.joinToString(", ")})")
    if ((photos.isNotEmpty() || signature != null) && script != "field-day") {
        throw UsageError("--photo and --signature go with --script field-day")
    }
    return Args(store, server, user, device, script, sync, photos, signature)
}

fun defaultDevice(user: String): String {
    val host = try {
        InetAddress.getLocalHost().hostName
    } catch (_: Exception) {
        "localhost"
    }
    return "mobile-demo $user@$host"
}

fun main(argv: Array<String>) {
    val args = try {
        parseArgs(argv)
    } catch (e: UsageError) {
        if (!e.message.isNullOrEmpty()) System.err.println("kefu-demo: ${e.message}")
        System.err.println(USAGE)
        exitProcess(if (e.message.isNullOrEmpty()) 0 else 2)
    }
    val code = if (args.script != null) runScript(args, args.script) else runInteractive(args)
    // Exit explicitly: the library's threads must not keep the JVM alive.
    System.out.flush()
    exitProcess(code)
}

fun runScript(args: Args, step: String): Int {
    val term = Terminal()
    return try {
        Phone.open(args.store).use { phone ->
            runBlocking {
                val scripts = Scripts(phone, term, step, args.photos, args.signature)
                if (step == "sign-in") {
                    val server = args.server ?: throw StepFailed("sign-in needs --server URL")
                    val user = args.user ?: throw StepFailed("sign-in needs --user NAME")
                    val pw = System.getenv("KEFU_PASSWORD")?.takeIf { it.isNotEmpty() }
                        ?: throw StepFailed("sign-in needs the password in KEFU_PASSWORD")
                    scripts.signIn(server, user, pw, args.device ?: defaultDevice(user))
                } else {
                    phone.loadSession() ?: throw NotSignedIn()
                    when (step) {
                        "field-day" -> scripts.fieldDay()
                        "agent-day" -> scripts.agentDay()
                        "sync" -> scripts.syncStep()
                        "live-sync" -> scripts.liveSync()
                        else -> throw StepFailed("unknown step $step")
                    }
                }
            }
        }
        term.say("OK $step")
        0
    } catch (e: Exception) {
        val why = when (e) {
            is StepFailed, is NotSignedIn -> e.message
            else -> "${errorKind(e)}: ${errorText(e)}"
        }
        term.say("FAILED $step: $why")
        System.err.println("kefu-demo: $step failed: $why")
        1
    }
}

fun runInteractive(args: Args): Int {
    val term = Terminal()
    return try {
        Phone.open(args.store).use { phone ->
            runBlocking {
                term.say("客服 Kefu 手机演示 · 本机存储 ${phone.storePath}")
                val session = phone.loadSession()
                if (session == null) {
                    if (!signInScreen(phone, term, args)) {
                        term.say("未登录，退出。")
                        return@runBlocking 1
                    }
                } else {
                    term.say("已登录：${session.displayName}（${phone.labels.role(session.role)}）· ${session.server}")
                    if (args.user != null) term.say("（本机已有登录，忽略 --user；要换账号请在首页选择“退出登录”）")
                }
                InteractiveApp(phone, term, SyncModel(phone), args.backgroundSync).run()
                term.say("再见。")
                0
            }
        }
    } catch (e: EndOfInput) {
        term.say()
        term.say("输入结束，退出。")
        0
    } catch (e: Exception) {
        term.say("✗ ${errorText(e)}")
        1
    }
}

/** 登录: server, user, password; then the first sync. False when the user gave up. */
suspend fun signInScreen(phone: Phone, term: Terminal, args: Args): Boolean {
    term.say("── 登录 ──")
    for (attempt in 1..3) {
        val server = args.server ?: term.askRequired("服务器地址（如 http://127.0.0.1:8080）: ") ?: return false
        val user = args.user ?: term.askRequired("用户名: ") ?: return false
        val pw = System.getenv("KEFU_PASSWORD")?.takeIf { it.isNotEmpty() } ?: term.password("密码: ")
        try {
            val s = phone.signIn(server, user, pw, args.device ?: defaultDevice(user))
            term.say("✓ 已登录：${s.displayName}（${phone.labels.role(s.role)}）")
            term.say("正在下载我的工作…")
            when (val r = SyncModel(phone).syncOnce()) {
                is SyncOutcome.Done -> term.say("✓ ${reportText(r.report)}")
                is SyncOutcome.Failed -> term.say("✗ ${errorText(r.error)}（稍后会自动重试）")
            }
            return true
        } catch (e: app.kefu.core.KefuException) {
            val why = if (e is app.kefu.core.KefuException.Unauthorized) "用户名或密码错误，或账号已停用" else errorText(e)
            term.say("✗ 登录失败：$why")
            if (args.server != null && args.user != null && System.getenv("KEFU_PASSWORD") != null) return false
        }
    }
    return false
}
