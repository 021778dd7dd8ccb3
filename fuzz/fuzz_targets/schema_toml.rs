//! Schema TOML to a validated model: never a panic, every diagnostic's span lies in
//! the input, and an accepted schema loads as a run-time schema.
#![no_main]

use addralloc::dynamic::DynSchema;
use addralloc::schema::Schema;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Schema::from_toml(text) {
        Ok(schema) => {
            let dynamic = DynSchema::from_schema(schema);
            assert!(dynamic.is_ok(), "a checked schema must load: {:?}", dynamic.err());
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            for d in diags {
                if let Some(span) = &d.span {
                    assert!(span.start <= span.end && span.end <= text.len(), "{d:?}");
                    assert!(d.line_col(text).is_some());
                }
            }
        }
    }
});
