//! State files: never a panic; a state that reads writes back to the same state; a plan
//! run from any state either places or says why, and what it writes reads back.
#![no_main]

use addralloc::plan::{Plan, RunOptions, State};
use libfuzzer_sys::fuzz_target;

const PLANS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plans");
const PLAN: &str = include_str!("../../examples/plans/i440fx.toml");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(state) = State::from_json(text) else { return };
    let back = State::from_json(&state.to_json()).expect("a state writes back");
    assert_eq!(back, state);
    let plan = Plan::from_toml(PLAN).expect("the bundled plan reads");
    if let Ok(placed) = plan.run(&RunOptions::new(PLANS).previous(&state, "state")) {
        let next = placed.state();
        assert_eq!(State::from_json(&next.to_json()).expect("reads back"), next);
    }
});
