// The words the screens show: Chinese labels of the closed sets (from the library's
// `choices(kind)`, so the codes the records store and the labels never drift apart), the sync
// state, a record's sync status, errors, times. Pure functions and a small cache: no I/O, so
// the same file sits behind Android views unchanged.
package app.kefu.demo

import app.kefu.core.Choice
import app.kefu.core.KefuException
import app.kefu.core.RecordStatus
import app.kefu.core.SyncState
import app.kefu.core.choices
import java.time.Instant
import java.time.LocalDate
import java.time.ZoneId
import java.time.format.DateTimeFormatter

/** The department works on China time; the library's `today()` uses it too. */
val CHINA: ZoneId = ZoneId.of("Asia/Shanghai")

private val HHMM: DateTimeFormatter = DateTimeFormatter.ofPattern("HH:mm").withZone(CHINA)
private val MDHM: DateTimeFormatter = DateTimeFormatter.ofPattern("MM-dd HH:mm").withZone(CHINA)
private val HMS: DateTimeFormatter = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(CHINA)

fun hhmm(ms: Long): String = HHMM.format(Instant.ofEpochMilli(ms))
fun monthDayTime(ms: Long): String = MDHM.format(Instant.ofEpochMilli(ms))
fun clockTime(ms: Long): String = HMS.format(Instant.ofEpochMilli(ms))
fun dateOf(ms: Long): String = LocalDate.ofInstant(Instant.ofEpochMilli(ms), CHINA).toString()

/**
 * The pickers' values with their Chinese labels, read once per kind from `choices(kind)`.
 * `source` is replaceable for previews and tests of the screens.
 */
class Labels(private val source: (String) -> List<Choice> = { kind -> choices(kind) }) {
    private val cache = HashMap<String, List<Choice>>()

    @Synchronized
    fun of(kind: String): List<Choice> = cache.getOrPut(kind) { source(kind) }

    /** The label of `code` in `kind`; the code itself when the library does not know it. */
    fun label(kind: String, code: String?): String {
        if (code == null) return "—"
        return of(kind).firstOrNull { it.code == code }?.label ?: code
    }

    fun role(code: String) = label("role", code)
    fun visitStatus(code: String) = label("visit_step", code)
    fun callbackStatus(code: String) = label("callback_step", code)
    fun complaintStatus(code: String) = label("complaint_step", code)
}

/** A record's standing with the server, as the record screens show it. */
fun recordStatusText(s: RecordStatus): String = when (s) {
    is RecordStatus.Local -> "未同步（仅在本机）"
    is RecordStatus.Sent -> "已发送，等待服务器确认"
    is RecordStatus.Accepted -> "已同步"
    is RecordStatus.Rejected -> "被服务器拒绝：${s.reason}"
}

/** A short code of a record's status for logs and the scripted output. */
fun recordStatusCode(s: RecordStatus): String = when (s) {
    is RecordStatus.Local -> "local"
    is RecordStatus.Sent -> "sent"
    is RecordStatus.Accepted -> "accepted"
    is RecordStatus.Rejected -> "rejected"
}

/** The background sync's state, short, for the status line at the top of every screen. */
fun syncStateText(s: SyncState): String = when (s) {
    is SyncState.Connecting -> "正在连接服务器…"
    is SyncState.Syncing -> "同步中 ${s.done}/${s.total}"
    is SyncState.Idle -> "已连接，已是最新"
    is SyncState.Error -> "离线，${(s.retryInMs.toLong() + 999) / 1000} 秒后重试"
    is SyncState.Unauthorized -> "登录已失效，请重新登录"
    is SyncState.Stopped -> "未在同步"
}

/** Whether a sync state is an end point (not a step on the way). */
fun settled(s: SyncState): Boolean =
    s is SyncState.Idle || s is SyncState.Error || s is SyncState.Unauthorized || s is SyncState.Stopped

/** What went wrong, in words for the person holding the phone. */
fun errorText(e: Throwable): String = when (e) {
    is KefuException.Network -> "网络不可用，已离线保存：${e.detail}"
    is KefuException.Unauthorized -> "需要重新登录：${e.detail}"
    is KefuException.InvalidInput -> "输入有误（${e.field}）：${e.detail}"
    is KefuException.Storage -> "本机存储出错：${e.detail}"
    is KefuException.Other -> "出错了：${e.detail}"
    is kotlinx.coroutines.TimeoutCancellationException -> "超时：${e.message}"
    else -> "出错了：${e.message ?: e.javaClass.simpleName}"
}

/** The library's own words of an error (its `detail`), without the Chinese lead-in. */
fun errorDetail(e: Throwable): String = when (e) {
    is KefuException.Network -> e.detail
    is KefuException.Unauthorized -> e.detail
    is KefuException.InvalidInput -> "${e.field}: ${e.detail}"
    is KefuException.Storage -> e.detail
    is KefuException.Other -> e.detail
    else -> e.message ?: e.javaClass.simpleName
}

/** The kind of a library error, for the scripted output (`Network`, `InvalidInput`, …). */
fun errorKind(e: Throwable): String = e.javaClass.simpleName
