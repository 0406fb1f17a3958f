// The sync as the screens see it: the background sync's state (from the library's listener,
// which calls from a library thread, into a StateFlow any UI can collect on its own thread),
// "sync now", and the one-shot sync. The listener also hears the upload queue move (photos,
// signatures), chunk by chunk.
package app.kefu.demo

import app.kefu.core.SyncHandle
import app.kefu.core.SyncListener
import app.kefu.core.SyncReport
import app.kefu.core.SyncState
import app.kefu.core.UploadProgress
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.atomic.AtomicLong

/** One state the listener heard, numbered, with the time it came. */
data class SyncEvent(val seq: Long, val state: SyncState, val at: Long)

/** How a one-shot sync ended. */
sealed class SyncOutcome {
    data class Done(val report: SyncReport) : SyncOutcome()
    data class Failed(val error: Throwable) : SyncOutcome()
}

class SyncModel(private val phone: Phone) {
    private val seq = AtomicLong(0)
    private val _state = MutableStateFlow(SyncEvent(0, SyncState.Stopped, System.currentTimeMillis()))
    private val recent = ArrayDeque<SyncEvent>()
    private var handle: SyncHandle? = null

    /** The latest state; collect it to redraw the status line. */
    val state: StateFlow<SyncEvent> = _state.asStateFlow()

    /** Called (from a library thread) for every state that ends a step: Idle, Error, …. */
    @Volatile
    var onSettled: ((SyncState) -> Unit)? = null

    /** Called (from a library thread) when an upload finished or was refused. */
    @Volatile
    var onUploadSettled: ((UploadProgress) -> Unit)? = null

    private val uploadsHeard = ArrayDeque<UploadProgress>()

    private val listener = object : SyncListener {
        override fun onUpload(progress: UploadProgress) {
            synchronized(uploadsHeard) {
                uploadsHeard.addLast(progress)
                while (uploadsHeard.size > 50) uploadsHeard.removeFirst()
            }
            if (progress.state != "uploading") onUploadSettled?.invoke(progress)
        }

        override fun onStatus(state: SyncState) {
            val e = SyncEvent(seq.incrementAndGet(), state, System.currentTimeMillis())
            synchronized(recent) {
                recent.addLast(e)
                while (recent.size > 20) recent.removeFirst()
            }
            _state.value = e
            if (settled(state)) onSettled?.invoke(state)
        }
    }

    /** The last upload progress heard, oldest first. */
    fun uploadHistory(): List<UploadProgress> = synchronized(uploadsHeard) { uploadsHeard.toList() }

    /** The last states heard, oldest first. */
    fun history(): List<SyncEvent> = synchronized(recent) { recent.toList() }

    val running: Boolean get() = handle?.isRunning() == true

    /** Starts the background sync (connects, stays connected, retries with backoff). */
    fun start() {
        phone.me // signed in, or NotSignedIn
        if (running) return
        handle = phone.kefu.startSync(listener)
    }

    /** Stops the background sync; waits briefly for it to end. */
    fun stop() {
        handle?.let {
            it.stop()
            it.close()
        }
        handle = null
    }

    /** Asks the background sync to push what was just changed here. */
    fun nudge() {
        handle?.syncNow()
    }

    /**
     * "Sync now" with the background sync running: waits (at most `timeoutMs`) for the next
     * state that ends a step and returns it, or null when none came in time.
     */
    suspend fun syncNowAndWait(timeoutMs: Long): SyncEvent? {
        val h = handle ?: return null
        val before = _state.value.seq
        h.syncNow()
        return withTimeoutOrNull(timeoutMs) {
            _state.first { it.seq > before && settled(it.state) && it.state !is SyncState.Stopped }
        }
    }

    /**
     * One sync round now (the background sync is paused for it and started again after).
     * Never throws: the failure is returned, and nothing made here is lost by it.
     */
    suspend fun syncOnce(timeoutMs: Long = SYNC_TIMEOUT_MS): SyncOutcome {
        val wasRunning = running
        if (wasRunning) stop()
        return try {
            SyncOutcome.Done(withTimeout(timeoutMs) { phone.kefu.syncOnce() })
        } catch (e: TimeoutCancellationException) {
            SyncOutcome.Failed(e)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            SyncOutcome.Failed(e)
        } finally {
            if (wasRunning) start()
        }
    }
}

fun reportText(r: SyncReport): String =
    "服务器清单 ${r.manifest} 条，交换 ${r.exchanged} 条，上传被接受 ${r.accepted} 条，被拒绝 ${r.rejected} 条，" +
        "收到更新 ${r.received} 条，移除 ${r.removed} 条" +
        (if (r.uploaded + r.uploadFailed + r.uploadsPending > 0u) "；文件上传完成 ${r.uploaded} 个，被拒绝 ${r.uploadFailed} 个，等待 ${r.uploadsPending} 个" else "") +
        (r.uploadError?.let { "（上传暂停：$it）" } ?: "")
