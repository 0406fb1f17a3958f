// The interactive phone app in a terminal: the screens of the two phone roles as numbered
// menus. It draws the view-models' states and turns choices into their actions; everything
// shown is read from the phone's local store, so it works the same with no signal. The
// background sync runs all along; its state is on top of every screen.
package app.kefu.demo

import app.kefu.core.KefuException
import app.kefu.core.PartUsed
import app.kefu.core.SyncState
import kotlinx.coroutines.CancellationException

class InteractiveApp(
    private val phone: Phone,
    private val term: Terminal,
    private val sync: SyncModel,
    private val backgroundSync: Boolean,
) {
    private val field = FieldViewModel(phone) { sync.nudge() }
    private val agent = AgentViewModel(phone) { sync.nudge() }
    private val outbox = OutboxViewModel(phone)
    private val uploads = UploadsViewModel(phone) { sync.nudge() }
    private val labels get() = phone.labels

    /** Runs until the user leaves (0) or stdin ends. Returns normally in both cases. */
    suspend fun run() {
        var lastShown: Class<*>? = null
        sync.onSettled = { st ->
            // The live status line: only what a person needs to notice (online, offline).
            if ((st is SyncState.Idle || st is SyncState.Error || st is SyncState.Unauthorized) && st.javaClass != lastShown) {
                lastShown = st.javaClass
                term.say("  〔同步〕${syncStateText(st)}")
            }
        }
        sync.onUploadSettled = { p -> term.say("  〔上传〕${progressText(p)}") }
        if (backgroundSync) sync.start()
        try {
            home()
        } catch (e: EndOfInput) {
            term.say()
            term.say("输入结束，退出。")
        } finally {
            sync.onSettled = null
            sync.onUploadSettled = null
            sync.stop()
        }
    }

    private suspend fun header(title: String) {
        val me = phone.me
        val pending = phone.kefu.outbox().size
        val files = uploads.pending().size
        term.say()
        term.say("════ 客服 · ${labels.role(me.role)} · ${me.displayName} ════")
        val bg = if (sync.running) syncStateText(sync.state.value.state) else "后台同步已关闭"
        term.say("今天 ${phone.today()}　同步：$bg　待同步 $pending 条修改" + if (files > 0) "，$files 个文件待上传" else "")
        term.say("── $title ──")
    }

    /** Runs one action; a library error is shown and the screen goes on. */
    private suspend fun guard(what: suspend () -> Unit) {
        try {
            what()
        } catch (e: EndOfInput) {
            throw e
        } catch (e: CancellationException) {
            throw e
        } catch (e: KefuException) {
            term.say("  ✗ ${errorText(e)}")
        } catch (e: IllegalStateException) {
            term.say("  ✗ ${e.message}")
        }
    }

    private suspend fun home() {
        val role = phone.me.role
        val fieldRole = role != "agent"
        val agentRole = role != "field"
        while (true) {
            header("首页")
            val items = mutableListOf<Pair<String, suspend () -> Unit>>()
            if (fieldRole) {
                val n = field.todayVisits().today.size
                items += "今日上门（$n）" to { visitsScreen() }
                items += "考勤打卡" to { attendanceScreen() }
            }
            if (agentRole) {
                val n = agent.dueCallbacks().items.size
                items += "今日待回访（$n）" to { callbacksScreen() }
                items += "受理投诉" to { complaintScreen() }
                items += "我的投诉（未结）" to { complaintsList() }
            }
            items += "待同步（发件箱）" to { outboxScreen() }
            items += "上传队列（照片、签名）" to { uploadsScreen() }
            items += "同步" to { syncScreen() }
            items += "退出登录" to { signOutScreen() }
            val chosen = term.pick("", items, back = "退出应用") { it.first } ?: return
            guard { chosen.second() }
            if (phone.session == null) return
        }
    }

    // ---- field staff -------------------------------------------------------------------------

    private suspend fun visitsScreen() {
        while (true) {
            val st = field.todayVisits()
            header("今日上门 ${st.date}")
            if (st.today.isEmpty()) term.say("  今天没有待上门的工单。")
            if (st.later.isNotEmpty()) term.say("  （以后还有 ${st.later.size} 个上门）")
            val v = term.pick("", st.today) {
                "${it.windowText}  ${it.customerName}  工单 ${it.workOrder}  ${it.statusLabel}" + if (it.overdue) "  ⚠逾期" else ""
            } ?: return
            guard { visitScreen(v) }
        }
    }

    private suspend fun visitScreen(v: VisitItem) {
        while (true) {
            val d = field.visit(v.docId, v.visitId)
            header("上门 · ${d.item.customerName}")
            term.say("  工单：${d.item.workOrder}（${d.reasonLabel}）")
            term.say("  时间：${d.item.windowText}　状态：${d.item.statusLabel}")
            term.say("  电话：${d.phones}")
            d.address?.let { term.say("  地址：$it") }
            d.workDone?.let { term.say("  完成内容：$it") }
            if (d.parts.isNotEmpty()) term.say("  配件：" + d.parts.joinToString("，") { "${it.part}×${it.quantity}" })
            d.rating?.let { term.say("  客户评分：$it 分") }
            d.photos.forEachIndexed { i, p -> term.say("  现场照片 ${i + 1}：${sizeText(p.size)}　${p.uploadText}") }
            d.signature?.let { term.say("  客户签名：${sizeText(it.size)}　${it.uploadText}") }
            term.say("  同步：${d.recordStatus}")
            val a = term.pick("", d.actions) { it.label } ?: return
            guard {
                val saved = when (a) {
                    VisitAction.EnRoute -> field.startTrip(d.item).let { true }
                    VisitAction.Arrive -> field.arrive(d.item).let { true }
                    VisitAction.Photo -> term.askOptional("  照片文件路径（相机拍摄的 jpg/png）: ")
                        ?.let { field.attachPhoto(d.item, it) } != null
                    VisitAction.Sign -> term.askOptional("  签名图片文件路径（签字板导出的 png）: ")
                        ?.let { field.sign(d.item, it) } != null
                    VisitAction.Complete -> completeForm()?.let { field.complete(d.item, it) } != null
                }
                if (saved) term.say("  ✓ 已保存在本机：${a.label}")
            }
        }
    }

    private fun completeForm(): CompletionForm? {
        term.say("完工登记（直接回车跳过可选项）")
        val work = term.askRequired("  完成内容: ") ?: return null
        val parts = mutableListOf<PartUsed>()
        for (i in 1..20) {
            val part = term.askOptional("  配件 $i 名称（回车结束）: ") ?: break
            val qty = term.askNumber("  数量 [1]: ", 1L..999L) ?: 1L
            parts += PartUsed(part, qty)
        }
        val rating = term.askNumber("  客户评分 1–5: ", 1L..5L)
        return CompletionForm(work, parts, rating)
    }

    private suspend fun attendanceScreen() {
        while (true) {
            val d = field.myDay()
            header("考勤 ${d.date}")
            term.say("  班次：${d.shiftLabel}")
            term.say("  上班打卡：${d.clockIn ?: "未打卡"}　下班打卡：${d.clockOut ?: "未打卡"}")
            if (d.lateMinutes > 0) term.say("  迟到 ${d.lateMinutes} 分钟")
            if (d.earlyLeaveMinutes > 0) term.say("  早退 ${d.earlyLeaveMinutes} 分钟")
            if (d.overtimeMinutes > 0) term.say("  加班 ${d.overtimeMinutes} 分钟")
            if (d.onLeave) term.say("  今日请假")
            val kind = term.pick("", labels.of("clock_kind")) { it.label } ?: return
            guard {
                val after = field.clock(kind.code)
                val at = if (kind.code == "in") after.clockIn else after.clockOut
                term.say("  ✓ ${kind.label}：$at（计入 ${after.date}）")
            }
        }
    }

    // ---- callback agent ------------------------------------------------------------------------

    private suspend fun callbacksScreen() {
        while (true) {
            val st = agent.dueCallbacks()
            header("今日待回访 ${st.date}")
            if (st.items.isEmpty()) term.say("  没有到期的回访。")
            val c = term.pick("", st.items) {
                "${it.scheduledFor}  ${it.customerName}  ${it.statusLabel}" + if (it.overdue) "  ⚠逾期" else ""
            } ?: return
            guard { callbackScreen(c) }
        }
    }

    private suspend fun callbackScreen(c: CallbackItem) {
        val d = agent.callback(c)
        header("回访 · ${d.item.customerName}")
        term.say("  应回访：${d.item.scheduledFor}　方式：${d.methodLabel}　状态：${d.item.statusLabel}")
        term.say("  电话：${d.phones}")
        d.followsVisit?.let { term.say("  回访上门：$it") }
        if (d.attempts > 0) term.say("  已联系 ${d.attempts} 次，上次结果：${d.lastOutcomeLabel ?: "—"}")
        term.say("  同步：${d.recordStatus}")
        val go = term.pick("", listOf("记录回访结果")) { it } ?: return
        if (go.isNotEmpty()) {
            val form = callbackForm() ?: return
            agent.record(d.item, form)
            term.say("  ✓ 回访结果已保存在本机")
        }
    }

    private fun callbackForm(): CallbackForm? {
        val method = term.pick("联系方式", labels.of("contact_channel"), back = "取消") { it.label } ?: return null
        val outcome = term.pick("回访结果", labels.of("callback_outcome"), back = "取消") { it.label } ?: return null
        val reached = outcome.code in agent.reachedOutcomes
        val satisfaction = if (reached) term.askNumber("  满意度 1–5: ", 1L..5L) else null
        val evaluation = if (reached) term.askOptional("  客户评价: ") else null
        val suggestions = if (reached) term.askOptional("  客户建议: ") else null
        val issue = if (reached) term.askOptional("  客户反映的问题: ") else null
        val note = term.askOptional("  备注: ")
        return CallbackForm(method.code, outcome.code, satisfaction, evaluation, suggestions, issue, note)
    }

    private suspend fun complaintScreen() {
        header("受理投诉")
        val customers = agent.myCustomers()
        if (customers.isEmpty()) {
            term.say("  本机没有可选的客户档案。")
            return
        }
        val who = term.pick("选择客户", customers, back = "取消") { "${it.name}  ${it.phones}  ${it.district ?: ""}" } ?: return
        val channel = term.pick("投诉渠道", labels.of("contact_channel"), back = "取消") { it.label } ?: return
        val content = term.askRequired("  投诉内容: ") ?: return
        val category = term.pick("投诉类别", labels.of("complaint_category"), back = "取消") { it.label } ?: return
        val severity = term.pick("严重程度", labels.of("severity"), back = "取消") { it.label } ?: return
        agent.takeComplaint(who.docId, ComplaintForm(channel.code, content, category.code, severity.code))
        term.say("  ✓ 已受理（保存在本机），处理人：${phone.me.displayName}")
    }

    private suspend fun complaintsList() {
        header("我的投诉（未结）")
        val list = agent.openComplaints()
        if (list.isEmpty()) term.say("  没有未结的投诉。")
        for (c in list) term.say("  ${c.receivedAt}  ${c.customerName}  ${c.severityLabel}  ${c.statusLabel}")
    }

    // ---- outbox, sync, session ------------------------------------------------------------------

    private suspend fun outboxScreen() {
        val st = outbox.load()
        header("待同步（发件箱）")
        if (st.total == 0) {
            term.say("  没有待同步的修改：本机的修改都已被服务器接受。")
            return
        }
        term.say("  共 ${st.total} 条修改，涉及 ${st.records.size} 条记录：")
        for (r in st.records) {
            val parts = listOfNotNull(
                if (r.local > 0) "未发送 ${r.local}" else null,
                if (r.sent > 0) "已发送 ${r.sent}" else null,
            ).joinToString("，")
            term.say("  · ${r.name}：$parts　${r.statusText}　最早 ${monthDayTime(r.oldest)}")
        }
    }

    private suspend fun uploadsScreen() {
        while (true) {
            val list = uploads.load()
            header("上传队列")
            if (list.isEmpty()) {
                term.say("  本机没有拍过照片或签名。")
                return
            }
            for (u in list) term.say("  · ${u.what}　${sizeText(u.size)}　${u.text}")
            val failed = list.filter { it.state == "failed" }
            if (failed.isEmpty()) {
                term.say("  （联网后自动上传；断网时已上传的部分会保留，下次接着传）")
                return
            }
            val u = term.pick("重新上传被拒绝的文件", failed, back = "返回") { "${it.what}　${it.text}" } ?: return
            guard {
                uploads.retry(u.sha256)
                term.say("  ✓ 已放回上传队列")
            }
        }
    }

    private suspend fun syncScreen() {
        while (true) {
            header("同步")
            term.say("  服务器：${phone.me.server}")
            term.say("  后台同步：${if (sync.running) "运行中 · " + syncStateText(sync.state.value.state) else "已关闭"}")
            val recent = sync.history().takeLast(6)
            if (recent.isNotEmpty()) {
                term.say("  最近：")
                for (e in recent) term.say("    ${clockTime(e.at)}  ${syncStateText(e.state)}")
            }
            (sync.state.value.state as? SyncState.Error)?.let { term.say("  原因：${it.message}") }
            val options = listOf("立即同步", if (sync.running) "关闭后台同步" else "开启后台同步")
            val o = term.pick("", options) { it } ?: return
            guard {
                when (o) {
                    "立即同步" -> syncNow()
                    "关闭后台同步" -> sync.stop()
                    else -> sync.start()
                }
            }
        }
    }

    private suspend fun syncNow() {
        if (sync.running) {
            term.say("  正在同步…")
            val e = sync.syncNowAndWait(20_000)
            term.say(if (e == null) "  20 秒内没有结果：后台同步会继续重试。" else "  ${syncStateText(e.state)}")
            (e?.state as? SyncState.Error)?.let { term.say("  原因：${it.message}（本机修改都还在）") }
        } else {
            term.say("  单次同步…")
            when (val r = sync.syncOnce()) {
                is SyncOutcome.Done -> term.say("  ✓ ${reportText(r.report)}")
                is SyncOutcome.Failed -> term.say("  ✗ ${errorText(r.error)}（本机修改都还在，稍后再同步）")
            }
        }
        term.say("  待同步：${phone.kefu.outbox().size} 条修改")
    }

    private suspend fun signOutScreen() {
        val pending = phone.kefu.outbox().size
        if (pending > 0) term.say("  注意：还有 $pending 条修改未同步；退出登录后它们仍保存在本机，下次登录后同步。")
        val ok = term.pick("确定退出登录？", listOf("退出登录"), back = "取消") { it } ?: return
        if (ok.isNotEmpty()) {
            sync.stop()
            phone.signOut()
            term.say("  已退出登录。")
        }
    }
}
