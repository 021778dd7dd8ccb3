//! The compiler never panics: odd inputs give `compile_error!`s, not "proc-macro panicked".

use proc_macro2::TokenStream;

fn derive(src: &str) -> String {
    let tokens: TokenStream = src.parse().expect("tokens");
    addralloc_codegen::derive(tokens).to_string()
}

#[test]
fn odd_derive_inputs_give_errors() {
    let cases = [
        "struct A { #[address(range = 0..0)] a: u8 }",
        "struct A { #[address(range = 340282366920938463463374607431768211456..=1)] a: u128 }",
        "struct A { #[address(range = -1..=3)] a: u8 }",
        "struct A { #[address(range = \"0..=3\")] a: u8 }",
        "struct A { #[address(range = 0..)] a: u8 }",
        "struct A { #[address(range = ..=3)] a: u8 }",
        "struct A { #[address(range)] a: u8 }",
        "struct A { #[address] a: u8 }",
        "#[address = \"x\"] struct A { a: u8 }",
        "#[address(format = 3)] struct A { a: u8 }",
        "#[address(format = \"{a:é}\")] struct A { a: u8 }",
        "#[address(format = \"é{a}{{}}}\")] struct A { a: u8 }",
        "#[address(format = \"{\")] struct A { a: u8 }",
        "#[address(crate = \"not a path\")] struct A { a: u8 }",
        "#[address(pool(tags = [\"x\"]))] struct A { a: u8 }",
        "#[address(pool = \"a=300\")] struct A { a: u8 }",
        "#[address(pool = \"a=0, a=1\")] struct A { a: u8 }",
        "#[address(pool = \"a\")] struct A { a: u8 }",
        "struct A {}",
        "struct A;",
        "union A { a: u8 }",
        "struct A { a: u128, b: u8 }",
        "struct A { a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, i: u8, j: u8, k: u8, l: u8, m: u8, n: u8, o: u8, p: u8, q: u8 }",
        "struct A { r#type: u8 }",
        "struct A<'a> { a: &'a u8 }",
        "struct A where u8: Copy { a: u8 }",
    ];
    for src in cases {
        let out = derive(src);
        assert!(out.contains("compile_error"), "no error for {src}: {out}");
    }
}

#[test]
fn include_schema_errors_not_panics() {
    for src in [
        "",
        "3",
        "\"\"",
        "\"/\"",
        "\"no/such/file.toml\"",
        "\"a\" \"b\"",
    ] {
        let tokens: TokenStream = src.parse().expect("tokens");
        let out = addralloc_codegen::include_schema(tokens).to_string();
        assert!(out.contains("compile_error"), "no error for {src}: {out}");
    }
}

#[test]
fn generate_reports_line_and_column() {
    let err =
        addralloc_codegen::generate("[[address]]\nname = \"A\"\nfromat = \"x\"\n", "::addralloc")
            .unwrap_err();
    assert!(
        err.iter()
            .any(|e| e.starts_with("3:1: unknown key `fromat`")),
        "{err:?}"
    );
    let ok = addralloc_codegen::generate(
        "[[address]]\nname = \"A\"\n[[address.field]]\nname = \"a\"\ntype = \"u8\"\n",
        "::addralloc",
    )
    .unwrap();
    assert!(ok.contains("impl ::addralloc::Address for A"), "{ok}");
}
