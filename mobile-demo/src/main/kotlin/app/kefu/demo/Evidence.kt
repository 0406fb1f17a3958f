// 照片与签名: a visit's evidence (photos of the work, the customer's signature) taken offline
// from image files — on Android the camera's or the signature pad's output file — and the
// upload queue (上传队列) that sends it when the phone is online, apart from the records.
//
// Attaching is local and instant: the library copies the bytes into the phone's store and
// puts the photo's hash, size and type into the visit in the same transaction, so the record
// and its evidence never drift apart. The upload queue then sends the bytes in resumable
// chunks; a refusal keeps the file with the server's reason.
package app.kefu.demo

import app.kefu.core.Attachment
import app.kefu.core.UploadInfo
import app.kefu.core.UploadProgress
import java.io.File

/** A photo or signature on a record, with where its upload stands on this phone. */
data class EvidenceItem(
    val sha256: String,
    val size: Long,
    val mediaType: String,
    /** 等待上传 / 上传中 45% / 已上传 / 上传失败：… / 由其他设备上传. */
    val uploadText: String,
)

/** One entry of the upload queue, for the 上传队列 screen. */
data class UploadLine(
    val sha256: String,
    val what: String,
    val docId: String,
    val size: Long,
    val state: String,
    val percent: Int,
    val text: String,
)

/** The media type of an image file, from its name; a clear error for anything else. */
fun imageTypeOf(path: String): String = when (File(path).extension.lowercase()) {
    "jpg", "jpeg" -> "image/jpeg"
    "png" -> "image/png"
    "webp" -> "image/webp"
    "heic", "heif" -> "image/heic"
    else -> throw IllegalStateException("不是图片文件：$path（支持 jpg、png、webp、heic）")
}

/** What an upload-queue label (`visit photo`, `signature`, …) is called on screen. */
fun evidenceLabel(label: String): String = when (label) {
    "visit photo" -> "现场照片"
    "signature" -> "客户签名"
    "check photo" -> "检查照片"
    "certificate" -> "病假证明"
    else -> label
}

/** Where an upload stands, in words; `null` when this phone did not attach it. */
fun uploadText(u: UploadInfo?): String = when {
    u == null -> "由其他设备上传"
    u.state == "waiting" -> "等待上传" + (u.error?.let { "（上次：$it）" } ?: "")
    u.state == "uploading" -> "上传中 ${u.percent}%"
    u.state == "uploaded" -> "已上传"
    u.state == "failed" -> "上传失败：${u.error ?: "原因不明"}"
    else -> u.state
}

/** One line of upload progress heard from the background sync. */
fun progressText(p: UploadProgress): String = when (p.state) {
    "uploaded" -> "${evidenceLabel(p.label)}已上传（还有 ${p.remaining} 个等待）"
    "failed" -> "${evidenceLabel(p.label)}上传失败：${p.error ?: "原因不明"}"
    else -> "${evidenceLabel(p.label)}上传中 ${p.percent}%"
}

fun sizeText(bytes: Long): String = when {
    bytes >= 1 shl 20 -> "%.1f MB".format(bytes / 1048576.0)
    bytes >= 1024 -> "${bytes / 1024} KB"
    else -> "$bytes B"
}

class UploadsViewModel(private val phone: Phone, private val changed: () -> Unit = {}) {
    private val kefu get() = phone.kefu

    /** The upload queue, oldest first. */
    suspend fun load(): List<UploadLine> = kefu.uploads().map {
        UploadLine(it.sha256, evidenceLabel(it.label), it.docId, it.size.toLong(), it.state, it.percent.toInt(), uploadText(it))
    }

    /** What is not uploaded yet (waiting, uploading or failed). */
    suspend fun pending(): List<UploadLine> = load().filter { it.state != "uploaded" }

    /** Puts a refused upload back in the queue (after the reason was dealt with). */
    suspend fun retry(sha256: String) {
        kefu.retryUpload(sha256)
        changed()
    }

    /** The evidence items of `attachments`, with this phone's upload state of each. */
    suspend fun items(attachments: List<Attachment>): List<EvidenceItem> {
        if (attachments.isEmpty()) return emptyList()
        val queue = kefu.uploads().associateBy { it.sha256 }
        return attachments.map { EvidenceItem(it.sha256, it.size, it.mediaType, uploadText(queue[it.sha256])) }
    }
}
