//! Plan files: never a panic; every problem's span lies in the input and renders; a plan
//! that places runs again from its own state with every device kept where it was, and
//! that state survives JSON.
#![no_main]

use addralloc::plan::{Plan, RunOptions, Source, State};
use libfuzzer_sys::fuzz_target;

/// Plans name schemas relative to the bundled plans (`../../schemas/pci.toml`).
const PLANS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plans");

fn check_problems(text: &str, problems: &[addralloc::plan::Problem]) {
    let source = Source::new(text);
    assert!(!problems.is_empty());
    for p in problems {
        if let Some(span) = &p.span {
            assert!(span.start <= span.end && span.end <= text.len(), "{p:?}");
        }
        let _ = source.render("plan.toml", p);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let plan = match Plan::from_toml(text) {
        Ok(plan) => plan,
        Err(problems) => return check_problems(text, &problems),
    };
    let placed = match plan.run(&RunOptions::new(PLANS)) {
        Ok(placed) => placed,
        Err(addralloc::plan::PlanError::Problems(problems)) => {
            return check_problems(text, &problems)
        }
        Err(e) => panic!("a first run has no state to refuse: {e}"),
    };
    let state = placed.state();
    let back = State::from_json(&state.to_json()).expect("a state reads back");
    assert_eq!(back, state);
    let again = plan
        .run(&RunOptions::new(PLANS).previous(&state, "state"))
        .expect("a plan runs again from its own state");
    let first: Vec<_> = placed.placements().map(|p| (&p.device, &p.first, &p.last)).collect();
    let second: Vec<_> = again.placements().map(|p| (&p.device, &p.first, &p.last)).collect();
    assert_eq!(first, second);
});
