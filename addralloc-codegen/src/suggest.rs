//! "did you mean" suggestions: the runtime's one suggestion function, so the schema
//! compiler, the runtime and the command line suggest by the same rule.

pub use addralloc_runtime::format::__private::suggest;
