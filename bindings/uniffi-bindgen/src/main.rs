//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libkefu.so --language kotlin …`
//!
//! Built in its own cargo invocation (see `bindings/generate.sh`): built together with the
//! library, cargo would unify uniffi's `cli` feature into the library and bloat it.

fn main() {
    uniffi::uniffi_bindgen_main()
}
