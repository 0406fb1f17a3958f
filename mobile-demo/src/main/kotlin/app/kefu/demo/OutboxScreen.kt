// 待同步 (the outbox): the changes made on this phone that the server has not accepted yet,
// per record, with each record's standing (未同步 / 已发送 / 已同步 / 被拒绝 and why).
package app.kefu.demo

import app.kefu.core.OutboxEntry
import app.kefu.core.RecordStatus

/** One record with unsynced changes. */
data class OutboxRecord(
    val docId: String,
    val name: String,
    /** Changes not sent yet. */
    val local: Int,
    /** Changes sent, not confirmed yet. */
    val sent: Int,
    val status: RecordStatus,
    val statusText: String,
    val oldest: Long,
)

data class OutboxState(val entries: List<OutboxEntry>, val records: List<OutboxRecord>) {
    val total: Int get() = entries.size
}

/** A record's standing, for the sync screens. */
data class RecordLine(val docId: String, val name: String, val status: RecordStatus, val statusText: String)

class OutboxViewModel(private val phone: Phone) {
    private val kefu get() = phone.kefu

    suspend fun load(): OutboxState {
        val entries = kefu.outbox()
        if (entries.isEmpty()) return OutboxState(entries, emptyList())
        val names = phone.recordNames()
        val records = entries.groupBy { it.docId }.map { (doc, es) ->
            val status = kefu.recordStatus(doc)
            OutboxRecord(
                docId = doc,
                name = names[doc] ?: "记录 ${doc.take(10)}…",
                local = es.count { it.status == "local" },
                sent = es.count { it.status != "local" },
                status = status,
                statusText = recordStatusText(status),
                oldest = es.minOf { it.createdAt },
            )
        }.sortedBy { it.oldest }
        return OutboxState(entries, records)
    }

    /** The standing of each of `docIds`, named. */
    suspend fun statusOf(docIds: Collection<String>): List<RecordLine> {
        val names = phone.recordNames()
        return docIds.map { doc ->
            val s = kefu.recordStatus(doc)
            RecordLine(doc, names[doc] ?: "记录 ${doc.take(10)}…", s, recordStatusText(s))
        }.sortedBy { it.name }
    }
}
