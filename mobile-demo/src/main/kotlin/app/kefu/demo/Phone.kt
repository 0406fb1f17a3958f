// The phone: one store file (`Kefu.open`), the signed-in user, and what every screen shares.
// On Android this is what the Application object (or a DI singleton) holds.
package app.kefu.demo

import app.kefu.core.Kefu
import app.kefu.core.SessionInfo
import app.kefu.core.uniffiEnsureInitialized
import kotlinx.coroutines.withTimeout
import java.io.File

/** Upper bounds of the calls that go to the network; store calls are local and short. */
const val SIGN_IN_TIMEOUT_MS = 60_000L
const val SYNC_TIMEOUT_MS = 120_000L

class NotSignedIn : Exception("本机还没有登录：先用 --server URL --user NAME 登录（--script sign-in）")

class Phone private constructor(val kefu: Kefu, val storePath: String) : AutoCloseable {
    val labels = Labels()

    /** The saved session (read from the store at start, replaced by a sign-in). */
    var session: SessionInfo? = null
        private set

    val me: SessionInfo get() = session ?: throw NotSignedIn()

    /** Lists show only the user's own work for field staff and agents; a supervisor sees the team's. */
    val ownFilter: String? get() = me.let { if (it.role == "field" || it.role == "agent") it.userId else null }

    suspend fun loadSession(): SessionInfo? {
        session = kefu.session()
        return session
    }

    suspend fun signIn(server: String, username: String, password: String, deviceName: String): SessionInfo {
        val s = withTimeout(SIGN_IN_TIMEOUT_MS) { kefu.signIn(server.trimEnd('/'), username, password, deviceName) }
        session = s
        return s
    }

    suspend fun signOut() {
        kefu.signOut()
        session = null
    }

    suspend fun today(): String = kefu.today()

    /**
     * What to call a record in lists that only know its id (the outbox): the customer's name,
     * or whose attendance month it is.
     */
    suspend fun recordNames(): Map<String, String> {
        val names = HashMap<String, String>()
        for (c in kefu.searchCustomers("", 5000u)) names[c.docId] = "客户档案 ${c.name}"
        val today = today()
        val months = listOf(today.substring(0, 7), java.time.LocalDate.parse(today).minusMonths(1).toString().substring(0, 7))
        val myId = session?.userId
        for (m in months) {
            for (a in kefu.attendanceForMonth(m, null)) {
                names[a.docId] = if (a.staff == myId) "我的考勤 ${a.month}" else "考勤 ${a.month}（${a.staff}）"
            }
        }
        return names
    }

    override fun close() {
        kefu.close()
    }

    companion object {
        /**
         * Opens the phone's store. Checks first that the loaded library is the one the
         * bindings were generated for (fails loudly on a stale libkefu.so).
         */
        fun open(path: String): Phone {
            uniffiEnsureInitialized()
            val file = File(path).absoluteFile
            file.parentFile?.mkdirs()
            return Phone(Kefu.open(file.path), file.path)
        }
    }
}
