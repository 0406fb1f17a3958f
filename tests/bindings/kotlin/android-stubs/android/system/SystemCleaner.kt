// Stub of Android's android.system.SystemCleaner (API 33+). It exists only so the
// `android = true` flavour of the generated bindings compiles and runs on a plain JVM
// (tests/bindings/test_kotlin.py); on Android the platform's shared cleaner is used. Like the
// real one, cleaner() returns one shared java.lang.ref.Cleaner.
package android.system

import java.lang.ref.Cleaner

object SystemCleaner {
    private val shared: Cleaner = Cleaner.create()

    @JvmStatic
    fun cleaner(): Cleaner = shared
}
