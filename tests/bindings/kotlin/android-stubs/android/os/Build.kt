// Stub of Android's android.os.Build. It exists only so the `android = true` flavour of the
// generated bindings compiles and runs on a plain JVM (tests/bindings/test_kotlin.py); an
// Android app uses the platform's own class. SDK_INT reports 34 (Android 14) so the bindings
// take their Android path and use android.system.SystemCleaner.
package android.os

object Build {
    object VERSION {
        @JvmField
        val SDK_INT: Int = 34
    }

    object VERSION_CODES {
        const val UPSIDE_DOWN_CAKE: Int = 34
    }
}
