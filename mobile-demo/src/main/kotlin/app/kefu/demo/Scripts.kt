// Scripted mode (`--script STEP`): a phone's day as separate steps, each its own process on
// the same store file, driving the same view-models as the interactive screens. Used by
// tests/bindings/test_mobile_demo.py. Each step prints what it did and returns normally on
// success; it throws StepFailed (exit code 1) with the reason otherwise.
package app.kefu.demo

import app.kefu.core.KefuException
import app.kefu.core.PartUsed
import app.kefu.core.RecordStatus
import app.kefu.core.SyncState
import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeoutOrNull

class StepFailed(message: String) : Exception(message)

/** What the scripted field day and agent day write (the tests look for these on the server). */
object ScriptedDay {
    const val WORK_DONE = "更换PP棉滤芯，清洗水路，试机正常"
    val PARTS = listOf(PartUsed("PP棉滤芯", 2), PartUsed("密封圈", 1))
    const val RATING = 5L
    const val EVALUATION = "师傅准时上门，服务很好"
    const val COMPLAINT = "安装后第二天接口处又渗水"
    const val COMPLAINT_CATEGORY = "installation"
    const val COMPLAINT_SEVERITY = "medium"
}

val STEPS = listOf("sign-in", "field-day", "agent-day", "sync", "live-sync")

class Scripts(
    private val phone: Phone,
    private val out: Terminal,
    private val step: String,
    /** field-day: image files taken as photos of the work on every visit (the camera's output). */
    private val photos: List<String> = emptyList(),
    /** field-day: the customer's signature on every visit, an image file (the signature pad's). */
    private val signature: String? = null,
) {
    private val sync = SyncModel(phone)
    private val field = FieldViewModel(phone)
    private val agent = AgentViewModel(phone)
    private val outbox = OutboxViewModel(phone)
    private val uploads = UploadsViewModel(phone)

    private fun say(s: String) = out.say("[$step] $s")

    suspend fun signIn(server: String, username: String, password: String, device: String) {
        val s = phone.signIn(server, username, password, device)
        say("已登录 signed in: ${s.displayName} (role ${s.role}, ${phone.labels.role(s.role)}) user ${s.userId} device ${s.deviceId} team ${s.team ?: "—"}")
        when (val r = sync.syncOnce()) {
            is SyncOutcome.Done -> say("同步完成 synced: manifest ${r.report.manifest}, exchanged ${r.report.exchanged}, " +
                "accepted ${r.report.accepted}, rejected ${r.report.rejected}, received ${r.report.received}, removed ${r.report.removed}")
            is SyncOutcome.Failed -> throw StepFailed("the first sync failed: ${errorKind(r.error)}: ${errorText(r.error)}")
        }
        showArrived()
    }

    private suspend fun showArrived() {
        val role = phone.me.role
        if (role != "agent") {
            val v = field.todayVisits()
            say("今日上门 visits today: ${v.today.size} (later: ${v.later.size}) on ${v.date}")
            for (i in v.today) say("  ${i.workOrder} ${i.customerName} ${i.statusLabel} (${i.status}) ${i.windowText}")
        }
        if (role != "field") {
            val c = agent.dueCallbacks()
            say("今日待回访 callbacks due: ${c.items.size} on ${c.date}")
            for (i in c.items) say("  ${i.customerName} ${i.scheduledFor} ${i.statusLabel} (${i.status})")
        }
    }

    /**
     * Field staff, offline: clock in; every visit due today on the way, arrived, photographed
     * and signed (with `--photo` / `--signature`), completed; clock out.
     */
    suspend fun fieldDay() {
        val me = phone.me
        say("离线工作 working offline as ${me.displayName} (${me.role})")
        val visits = field.todayVisits()
        if (visits.today.isEmpty()) throw StepFailed("no open visit due today (${visits.date}) on this phone: run --script sign-in first")
        val inDay = field.clock("in")
        say("上班打卡 clock in: ${inDay.clockIn} (${inDay.shiftLabel})")
        for (v in visits.today) {
            val path = mutableListOf<String>()
            if (v.status == "dispatched") {
                field.startTrip(v, "出发前往客户处")
                path += "在途 en_route"
            }
            if (v.status == "dispatched" || v.status == "en_route") {
                field.arrive(v)
                path += "已到达 on_site"
            }
            for (p in photos) {
                val a = field.attachPhoto(v, p)
                path += "照片 photo ${a.sha256.take(12)} (${a.size} B)"
            }
            signature?.let {
                val a = field.sign(v, it)
                path += "签名 signature ${a.sha256.take(12)} (${a.size} B)"
            }
            field.complete(v, CompletionForm(ScriptedDay.WORK_DONE, ScriptedDay.PARTS, ScriptedDay.RATING))
            path += "已完成 completed"
            val d = field.visit(v.docId, v.visitId)
            if (d.item.status != "completed") throw StepFailed("visit ${v.workOrder} is ${d.item.status} after completing it")
            if (d.photos.size < photos.distinct().size) throw StepFailed("visit ${v.workOrder} has ${d.photos.size} photos after attaching ${photos.size}")
            if (signature != null && d.signature == null) throw StepFailed("visit ${v.workOrder} has no signature after signing")
            say("上门 visit ${v.workOrder} ${v.customerName}: ${v.statusLabel} → ${path.joinToString(" → ")}; " +
                "work done \"${d.workDone}\", parts ${d.parts.joinToString(", ") { "${it.part}×${it.quantity}" }}, rating ${d.rating}, " +
                "photos ${d.photos.size}, signature ${if (d.signature != null) "yes" else "no"}")
        }
        val outDay = field.clock("out")
        say("下班打卡 clock out: ${outDay.clockOut} (counts for ${outDay.date})")
        if (outDay.clockOut == null) throw StepFailed("no clock-out on ${outDay.date} after clocking out")
        val day = field.myDay()
        say("今日考勤 my day ${day.date}: shift ${day.shiftLabel}, in ${day.clockIn}, out ${day.clockOut}, late ${day.lateMinutes} min, early leave ${day.earlyLeaveMinutes} min")
        if (day.clockIn == null) throw StepFailed("my day has no clock-in after clocking in")
        val before = showOutbox()
        if (before.total == 0) throw StepFailed("the outbox is empty after a day's work offline")
        if (before.records.any { it.status !is RecordStatus.Local }) throw StepFailed("a record is not local before any sync")
        val queued = showUploads()
        if (queued.any { it.state != "waiting" }) throw StepFailed("an upload is not waiting before any sync")
        offlineSyncMustFail(before)
        val still = uploads.load()
        if (still.map { it.sha256 to it.state } != queued.map { it.sha256 to "waiting" }) {
            throw StepFailed("the upload queue changed across the failed sync: $queued before, $still after")
        }
        if (queued.isNotEmpty()) say("上传队列不变 upload queue unchanged: ${still.size} files waiting")
    }

    /** With the server stopped, a sync fails with Network and loses nothing. */
    private suspend fun offlineSyncMustFail(before: OutboxState) {
        when (val r = sync.syncOnce(60_000)) {
            is SyncOutcome.Done -> throw StepFailed("the sync succeeded (${reportText(r.report)}): this step must run with the server stopped")
            is SyncOutcome.Failed -> {
                if (r.error !is KefuException.Network) {
                    throw StepFailed("the sync failed with ${errorKind(r.error)} (${errorText(r.error)}), expected Network")
                }
                say("同步失败（离线）sync failed as expected: Network: ${errorDetail(r.error)}")
            }
        }
        val after = phone.kefu.outbox()
        if (after.map { it.hash } != before.entries.map { it.hash }) {
            throw StepFailed("the outbox changed across the failed sync: ${before.total} changes before, ${after.size} after")
        }
        say("待同步不变 outbox unchanged: ${after.size} changes")
    }

    /** Agent, offline: the outcome of every callback due, one complaint taken. */
    suspend fun agentDay() {
        val me = phone.me
        say("离线工作 working offline as ${me.displayName} (${me.role})")
        val due = agent.dueCallbacks()
        if (due.items.isEmpty()) throw StepFailed("no callback due by ${due.date} on this phone: run --script sign-in first")
        due.items.forEachIndexed { i, c ->
            val satisfaction = if (i % 2 == 0) 5L else 4L
            agent.record(c, CallbackForm("phone", "satisfied", satisfaction, ScriptedDay.EVALUATION, null, null, null))
            val d = agent.callback(c)
            if (d.item.status != "done") throw StepFailed("callback of ${c.customerName} is ${d.item.status} after recording it")
            say("回访 callback ${c.customerName} (${c.scheduledFor}): ${d.lastOutcomeLabel} satisfied, 满意度 satisfaction ${d.satisfaction}, status ${d.item.status}")
        }
        val customer = due.items.first()
        val id = agent.takeComplaint(
            customer.docId,
            ComplaintForm("phone", ScriptedDay.COMPLAINT, ScriptedDay.COMPLAINT_CATEGORY, ScriptedDay.COMPLAINT_SEVERITY),
        )
        val labels = phone.labels
        say("投诉 complaint taken on ${customer.customerName}: ${labels.label("complaint_category", ScriptedDay.COMPLAINT_CATEGORY)} / " +
            "${labels.label("severity", ScriptedDay.COMPLAINT_SEVERITY)}, id $id, handler ${me.userId}")
        val open = agent.openComplaints()
        if (open.none { it.complaintId == id }) throw StepFailed("the complaint just taken is not among the open complaints")
        val st = showOutbox()
        if (st.total == 0) throw StepFailed("the outbox is empty after a day's work offline")
    }

    /** Server back: one sync round; every touched record accepted, the outbox empty. */
    suspend fun syncStep() {
        val before = outbox.load()
        say("待同步 outbox before: ${before.total} changes in ${before.records.size} records")
        val touched = touchedRecords(before)
        val r = sync.syncOnce()
        when (r) {
            is SyncOutcome.Done -> say("同步完成 synced: ${reportText(r.report)} (accepted ${r.report.accepted}, rejected ${r.report.rejected})")
            is SyncOutcome.Failed -> throw StepFailed("the sync failed: ${errorKind(r.error)}: ${errorText(r.error)}")
        }
        checkAllAccepted(touched)
        checkAllUploaded()
    }

    /** Every photo and signature taken here is on the server (none waiting or refused). */
    private suspend fun checkAllUploaded() {
        val list = showUploads()
        val failed = list.filter { it.state == "failed" }
        if (failed.isNotEmpty()) throw StepFailed("uploads refused: " + failed.joinToString("; ") { "${it.what}: ${it.text}" })
        val pending = list.filter { it.state != "uploaded" }
        if (pending.isNotEmpty()) throw StepFailed("${pending.size} files not uploaded after the sync: " + pending.joinToString("; ") { "${it.what}: ${it.text}" })
    }

    private suspend fun showUploads(): List<UploadLine> {
        val list = uploads.load()
        if (list.isEmpty()) return list
        say("上传队列 upload queue: ${list.size} files")
        for (u in list) say("  ${u.what} ${u.sha256.take(12)} ${u.size} B: ${u.state} ${u.percent}% (${u.text})")
        return list
    }

    private suspend fun touchedRecords(before: OutboxState): Set<String> {
        val me = phone.me
        val docs = LinkedHashSet<String>()
        before.records.forEach { docs += it.docId }
        phone.ownFilter?.let { u -> phone.kefu.customersAssignedTo(u).forEach { docs += it.docId } }
        phone.kefu.attendanceForMonth(phone.today().substring(0, 7), me.userId).forEach { docs += it.docId }
        return docs
    }

    private suspend fun checkAllAccepted(touched: Set<String>) {
        val lines = outbox.statusOf(touched)
        say("记录状态 record status:")
        for (l in lines) say("  ${l.name}: ${recordStatusCode(l.status)} (${l.statusText})")
        val after = phone.kefu.outbox()
        say("待同步 outbox after: ${after.size} changes")
        val rejected = lines.filter { it.status is RecordStatus.Rejected }
        if (rejected.isNotEmpty()) throw StepFailed("rejected by the server: " + rejected.joinToString("; ") { "${it.name}: ${it.statusText}" })
        if (after.isNotEmpty()) throw StepFailed("${after.size} changes still in the outbox after the sync")
        val notAccepted = lines.filter { it.status !is RecordStatus.Accepted }
        if (notAccepted.isNotEmpty()) throw StepFailed("not accepted yet: " + notAccepted.joinToString("; ") { "${it.name}: ${it.statusText}" })
    }

    /** The background sync: start it, "sync now", wait (bounded) until up to date, stop it. */
    suspend fun liveSync() {
        val before = outbox.load()
        say("待同步 outbox before: ${before.total} changes")
        val touched = touchedRecords(before)
        sync.start()
        sync.nudge()
        val upToDate = try {
            withTimeoutOrNull(60_000) {
                var lastNudge = System.currentTimeMillis()
                while (true) {
                    val st = sync.state.value.state
                    if (st is SyncState.Unauthorized) throw StepFailed("the server refused the sign-in")
                    if (st is SyncState.Idle) {
                        if (phone.kefu.outbox().isEmpty() && uploads.pending().none { it.state != "failed" }) break
                        if (System.currentTimeMillis() - lastNudge > 2_000) {
                            sync.nudge()
                            lastNudge = System.currentTimeMillis()
                        }
                    }
                    delay(100)
                }
                true
            } ?: false
        } finally {
            sync.stop()
        }
        say("同步状态 sync states heard by the listener:")
        for (e in sync.history()) say("  ${clockTime(e.at)} ${syncStateText(e.state)}")
        if (!upToDate) throw StepFailed("the background sync was not up to date within 60 s (last: ${syncStateText(sync.state.value.state)})")
        if (sync.history().lastOrNull()?.state !is SyncState.Stopped) throw StepFailed("the listener did not hear Stopped after stop()")
        for (p in sync.uploadHistory().filter { it.state != "uploading" }) say("  上传 upload ${p.sha256.take(12)}: ${progressText(p)}")
        say("后台同步 background sync reached Idle (已是最新) and stopped")
        checkAllAccepted(touched)
        checkAllUploaded()
    }

    private suspend fun showOutbox(): OutboxState {
        val st = outbox.load()
        say("待同步 outbox: ${st.total} changes in ${st.records.size} records")
        for (r in st.records) say("  ${r.name}: ${r.local} local, ${r.sent} sent; status ${recordStatusCode(r.status)} (${r.statusText})")
        return st
    }
}
