// Field staff (售后/上门服务): today's visits, a visit (on the way, arrived, photos of the
// work, the customer's signature, completed with the work done, parts and rating) and the
// day's attendance (clock in and out).
//
// View-models only: each screen's state is a plain data class read from the phone's local
// store (so every screen works offline), and each action is one call into the library. They
// print nothing; the terminal (Terminal.kt) or an Android view draws the state.
package app.kefu.demo

import app.kefu.core.Attachment
import app.kefu.core.AttachmentSource
import app.kefu.core.PartUsed
import app.kefu.core.VisitCompletion
import app.kefu.core.VisitRow

/** A visit in the list. */
data class VisitItem(
    val docId: String,
    val visitId: String,
    val customerName: String,
    val workOrder: String,
    val status: String,
    val statusLabel: String,
    val windowStart: Long,
    val windowEnd: Long,
    /** "10:00–12:00", with the date when not today. */
    val windowText: String,
    /** The agreed window has passed and the visit is still open. */
    val overdue: Boolean,
)

/** 今日上门: open visits due today or earlier, and how many come later. */
data class TodayVisitsState(val date: String, val today: List<VisitItem>, val later: List<VisitItem>)

/** What can be done next on a visit. */
enum class VisitAction(val label: String) {
    EnRoute("出发（在途）"),
    Arrive("到达现场"),
    Photo("拍照（现场照片）"),
    Sign("客户签名"),
    Complete("完工登记"),
}

/** One visit in full (a customer file's visit). */
data class VisitDetailState(
    val item: VisitItem,
    val phones: String,
    val address: String?,
    val reasonLabel: String,
    val workDone: String?,
    val parts: List<PartUsed>,
    val rating: Long?,
    /** Photos of the work, oldest first, with where each upload stands. */
    val photos: List<EvidenceItem>,
    val signature: EvidenceItem?,
    val recordStatus: String,
    val actions: List<VisitAction>,
)

/** The 完工 form. */
data class CompletionForm(val workDone: String, val parts: List<PartUsed>, val rating: Long?)

/** 考勤: the user's day. */
data class DayState(
    val date: String,
    val shiftLabel: String,
    val clockIn: String?,
    val clockOut: String?,
    val lateMinutes: Long,
    val earlyLeaveMinutes: Long,
    val overtimeMinutes: Long,
    val onLeave: Boolean,
    val absent: Boolean,
)

class FieldViewModel(private val phone: Phone, private val changed: () -> Unit = {}) {
    private val kefu get() = phone.kefu
    private val labels get() = phone.labels
    private val uploads = UploadsViewModel(phone)

    private fun item(r: VisitRow, today: String, now: Long): VisitItem {
        val day = dateOf(r.windowStart)
        val window = "${hhmm(r.windowStart)}–${hhmm(r.windowEnd)}"
        return VisitItem(
            docId = r.docId,
            visitId = r.visitId,
            customerName = r.customerName,
            workOrder = r.workOrder,
            status = r.status,
            statusLabel = labels.visitStatus(r.status),
            windowStart = r.windowStart,
            windowEnd = r.windowEnd,
            windowText = if (day == today) window else "$day $window",
            overdue = r.windowEnd < now,
        )
    }

    /** Open visits of the user (all of the team's for a supervisor), today's first. */
    suspend fun todayVisits(): TodayVisitsState {
        val today = phone.today()
        val now = System.currentTimeMillis()
        val rows = kefu.openVisits(phone.ownFilter).map { item(it, today, now) }
        val (due, later) = rows.partition { dateOf(it.windowStart) <= today }
        return TodayVisitsState(today, due, later)
    }

    suspend fun visit(docId: String, visitId: String): VisitDetailState {
        val file = kefu.customer(docId)
        val v = file.visits.firstOrNull { it.id == visitId }
            ?: throw IllegalStateException("客户档案 ${file.profile.name} 中没有这个上门记录 ($visitId)")
        val today = phone.today()
        val row = VisitRow(docId, v.id, file.profile.name, v.staff, v.status, v.workOrder, v.windowStart, v.windowEnd)
        val actions = when (v.status) {
            "dispatched" -> listOf(VisitAction.EnRoute, VisitAction.Arrive)
            "en_route" -> listOf(VisitAction.Arrive)
            "on_site" -> listOf(VisitAction.Photo, VisitAction.Sign, VisitAction.Complete)
            "completed" -> listOf(VisitAction.Photo, VisitAction.Sign)
            else -> emptyList()
        }
        val evidence = uploads.items(v.photos.sortedBy { it.attachedAt } + listOfNotNull(v.signature))
        return VisitDetailState(
            item = item(row, today, System.currentTimeMillis()),
            phones = file.profile.phones.joinToString(" "),
            address = listOfNotNull(file.profile.district, file.profile.address).joinToString(" ").ifBlank { null },
            reasonLabel = labels.label("visit_reason", v.reason),
            workDone = v.workDone,
            parts = v.parts,
            rating = v.rating,
            photos = evidence.take(v.photos.size),
            signature = if (v.signature != null) evidence.last() else null,
            recordStatus = recordStatusText(kefu.recordStatus(docId)),
            actions = actions,
        )
    }

    /** 出发: on the way to the customer. */
    suspend fun startTrip(v: VisitItem, note: String? = null) = advance(v, "en_route", note)

    /** 到达: arrived at the customer. */
    suspend fun arrive(v: VisitItem, note: String? = null) = advance(v, "on_site", note)

    private suspend fun advance(v: VisitItem, to: String, note: String?) {
        kefu.advanceVisit(v.docId, v.visitId, to, note)
        changed()
    }

    /**
     * 拍照: adds a photo of the work from an image file (the camera's output). Saved on the
     * phone at once; the bytes wait in the upload queue.
     */
    suspend fun attachPhoto(v: VisitItem, path: String): Attachment {
        val a = kefu.attachVisitPhoto(v.docId, v.visitId, AttachmentSource.File(path), imageTypeOf(path))
        changed()
        return a
    }

    /** 客户签名: the customer's signature, an image file from the signature pad. */
    suspend fun sign(v: VisitItem, path: String): Attachment {
        val a = kefu.signVisit(v.docId, v.visitId, AttachmentSource.File(path), imageTypeOf(path))
        changed()
        return a
    }

    /** 完工: the work done, the parts used and the customer's rating. */
    suspend fun complete(v: VisitItem, form: CompletionForm) {
        kefu.completeVisit(v.docId, v.visitId, VisitCompletion(form.workDone, form.parts, form.rating, null))
        changed()
    }

    /**
     * 上班打卡 (`in`) / 下班打卡 (`out`); returns the day it counts for (a late shift's
     * clock-out before 06:00 belongs to the day before, as the library records it).
     */
    suspend fun clock(kind: String, location: String? = null): DayState {
        val today = phone.today()
        val early = java.time.LocalTime.now(CHINA).hour < 6
        kefu.clock(kind, location)
        changed()
        return myDay(if (kind == "out" && early) java.time.LocalDate.parse(today).minusDays(1).toString() else today)
    }

    /** The user's attendance on `date` (today by default). */
    suspend fun myDay(date: String? = null): DayState {
        val d = kefu.myDay(date ?: phone.today())
        return DayState(
            date = d.date,
            shiftLabel = labels.label("shift", d.shift),
            clockIn = d.clockIn?.let { clockTime(it) },
            clockOut = d.clockOut?.let { clockTime(it) },
            lateMinutes = d.lateMinutes,
            earlyLeaveMinutes = d.earlyLeaveMinutes,
            overtimeMinutes = d.overtimeMinutes,
            onLeave = d.onLeave,
            absent = d.absent,
        )
    }
}
