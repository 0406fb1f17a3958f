// Callback agent (回访专员): callbacks due today (and overdue), recording a callback's outcome
// and the customer's satisfaction, taking a complaint. View-models only (see FieldScreens.kt).
package app.kefu.demo

import app.kefu.core.CallbackResult
import app.kefu.core.NewComplaint

/** A callback in the list. */
data class CallbackItem(
    val docId: String,
    val callbackId: String,
    val customerName: String,
    val scheduledFor: String,
    val status: String,
    val statusLabel: String,
    val overdue: Boolean,
)

/** 今日待回访. */
data class DueCallbacksState(val date: String, val items: List<CallbackItem>)

/** One callback in full, with who the customer is. */
data class CallbackDetailState(
    val item: CallbackItem,
    val phones: String,
    val methodLabel: String,
    val attempts: Int,
    val lastOutcomeLabel: String?,
    val satisfaction: Long?,
    /** The visit this callback follows up, when any: its work order and what was done. */
    val followsVisit: String?,
    val recordStatus: String,
)

/** The 回访结果 form (codes from `choices("contact_channel")` / `choices("callback_outcome")`). */
data class CallbackForm(
    val method: String,
    val outcome: String,
    val satisfaction: Long?,
    val evaluation: String?,
    val suggestions: String?,
    val issue: String?,
    val note: String?,
)

/** The 受理投诉 form (codes from `contact_channel`, `complaint_category`, `severity`). */
data class ComplaintForm(val channel: String, val content: String, val category: String, val severity: String)

/** A customer to pick. */
data class CustomerItem(val docId: String, val name: String, val phones: String, val district: String?)

/** An open complaint in the list. */
data class ComplaintItem(
    val docId: String,
    val complaintId: String,
    val customerName: String,
    val statusLabel: String,
    val severityLabel: String,
    val receivedAt: String,
)

class AgentViewModel(private val phone: Phone, private val changed: () -> Unit = {}) {
    private val kefu get() = phone.kefu
    private val labels get() = phone.labels

    /** Outcomes after which the customer was reached, so satisfaction is asked. */
    val reachedOutcomes = setOf("satisfied", "issue_raised", "refused", "follow_up_needed")

    suspend fun dueCallbacks(): DueCallbacksState {
        val today = phone.today()
        val items = kefu.dueCallbacks(phone.ownFilter, today).map {
            CallbackItem(
                docId = it.docId,
                callbackId = it.callbackId,
                customerName = it.customerName,
                scheduledFor = it.scheduledFor,
                status = it.status,
                statusLabel = labels.callbackStatus(it.status),
                overdue = it.scheduledFor < today,
            )
        }
        return DueCallbacksState(today, items)
    }

    suspend fun callback(item: CallbackItem): CallbackDetailState {
        val file = kefu.customer(item.docId)
        val cb = file.callbacks.firstOrNull { it.id == item.callbackId }
            ?: throw IllegalStateException("客户档案 ${file.profile.name} 中没有这个回访 (${item.callbackId})")
        val visit = cb.visit?.let { vid -> file.visits.firstOrNull { it.id == vid } }
        return CallbackDetailState(
            item = item.copy(status = cb.status, statusLabel = labels.callbackStatus(cb.status)),
            phones = file.profile.phones.joinToString(" "),
            methodLabel = labels.label("contact_channel", cb.method),
            attempts = cb.attempts.toInt(),
            lastOutcomeLabel = cb.outcome?.let { labels.label("callback_outcome", it) },
            satisfaction = cb.satisfaction,
            followsVisit = visit?.let { "工单 ${it.workOrder}：${it.workDone ?: labels.visitStatus(it.status)}" },
            recordStatus = recordStatusText(kefu.recordStatus(item.docId)),
        )
    }

    /** Records one attempt and its outcome (回访结果). */
    suspend fun record(item: CallbackItem, form: CallbackForm) {
        kefu.recordCallback(
            item.docId,
            item.callbackId,
            CallbackResult(
                method = form.method,
                outcome = form.outcome,
                satisfaction = form.satisfaction,
                evaluation = form.evaluation,
                suggestions = form.suggestions,
                issue = form.issue,
                followUpOn = null,
                note = form.note,
            ),
        )
        changed()
    }

    /** The customers the user looks after (the team's for a supervisor). */
    suspend fun myCustomers(): List<CustomerItem> {
        val rows = phone.ownFilter?.let { kefu.customersAssignedTo(it) } ?: kefu.searchCustomers("", 200u)
        return rows.map { CustomerItem(it.docId, it.name, it.phones, it.district) }
    }

    /** 受理投诉 on a customer, handled by the user; returns the complaint's id. */
    suspend fun takeComplaint(docId: String, form: ComplaintForm): String {
        val id = kefu.takeComplaint(
            docId,
            NewComplaint(
                channel = form.channel,
                content = form.content,
                category = form.category,
                severity = form.severity,
                handler = phone.me.userId,
            ),
        )
        changed()
        return id
    }

    suspend fun openComplaints(): List<ComplaintItem> =
        kefu.openComplaints(phone.ownFilter).map {
            ComplaintItem(
                docId = it.docId,
                complaintId = it.complaintId,
                customerName = it.customerName,
                statusLabel = labels.complaintStatus(it.status),
                severityLabel = labels.label("severity", it.severity),
                receivedAt = monthDayTime(it.receivedAt),
            )
        }
}
