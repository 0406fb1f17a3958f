// Terminal I/O: numbered menus and prompts on stdin/stdout. The only file that reads input;
// on Android its place is taken by views and pickers. End of input (EOF, Ctrl-D) ends the app.
package app.kefu.demo

import java.io.BufferedReader
import java.io.InputStreamReader
import java.io.PrintStream

/** stdin ended: the app closes cleanly. */
class EndOfInput : Exception("end of input")

class Terminal(
    private val input: BufferedReader = BufferedReader(InputStreamReader(System.`in`, Charsets.UTF_8)),
    val out: PrintStream = PrintStream(System.out, true, "UTF-8"),
) {
    @Synchronized
    fun say(line: String = "") {
        out.println(line)
    }

    /** A line of input, trimmed; EndOfInput at end of input. */
    fun ask(prompt: String): String {
        synchronized(this) {
            out.print(prompt)
            out.flush()
        }
        return (input.readLine() ?: throw EndOfInput()).trim()
    }

    /** A line that must not be blank (asks again, 3 times at most); null when given up. */
    fun askRequired(prompt: String): String? {
        repeat(3) {
            val s = ask(prompt)
            if (s.isNotEmpty()) return s
            say("  不能为空。")
        }
        say("  已取消。")
        return null
    }

    /** A line, or null when left blank. */
    fun askOptional(prompt: String): String? = ask(prompt).ifEmpty { null }

    /** A whole number in `range`, or null when left blank (asks again when out of range). */
    fun askNumber(prompt: String, range: LongRange): Long? {
        repeat(5) {
            val s = ask(prompt)
            if (s.isEmpty()) return null
            val n = s.toLongOrNull()
            if (n != null && n in range) return n
            say("  请输入 ${range.first}–${range.last} 的数字，或直接回车跳过。")
        }
        return null
    }

    /** A password: not echoed on a real terminal; a plain line when stdin is a pipe. */
    fun password(prompt: String): String {
        val console = System.console()
        if (console != null) {
            val pw = console.readPassword(prompt) ?: throw EndOfInput()
            return String(pw)
        }
        return ask(prompt)
    }

    /**
     * A numbered list to pick from; 0 (or blank) goes back and returns null. Asks again on
     * anything else, at most 5 times.
     */
    fun <T> pick(title: String, options: List<T>, back: String = "返回", label: (T) -> String): T? {
        if (title.isNotEmpty()) say(title)
        options.forEachIndexed { i, o -> say("  ${i + 1}. ${label(o)}") }
        say("  0. $back")
        repeat(5) {
            val s = ask("请选择: ")
            if (s.isEmpty() || s == "0") return null
            val n = s.toIntOrNull()
            if (n != null && n in 1..options.size) return options[n - 1]
            say("  请输入 0–${options.size}。")
        }
        return null
    }
}
