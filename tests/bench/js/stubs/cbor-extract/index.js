// cbor-x requires this inside try/catch and falls back to pure JavaScript when it throws.
throw new Error("cbor-extract is stubbed out (tests/js/stubs/cbor-extract)")
