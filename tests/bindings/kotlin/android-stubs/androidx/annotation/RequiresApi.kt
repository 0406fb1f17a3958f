// Stub of AndroidX's androidx.annotation.RequiresApi. It exists only so the `android = true`
// flavour of the generated bindings compiles and runs on a plain JVM
// (tests/bindings/test_kotlin.py); an Android app gets the real one from androidx.annotation.
package androidx.annotation

@Retention(AnnotationRetention.BINARY)
@Target(
    AnnotationTarget.CLASS,
    AnnotationTarget.FUNCTION,
    AnnotationTarget.CONSTRUCTOR,
    AnnotationTarget.PROPERTY_GETTER,
    AnnotationTarget.PROPERTY_SETTER,
    AnnotationTarget.FIELD,
    AnnotationTarget.FILE,
)
annotation class RequiresApi(val value: Int = 1, val api: Int = 1)
