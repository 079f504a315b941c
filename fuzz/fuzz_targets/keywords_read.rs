//! Fuzzes the reading of a reporter's SMS with the built-in keyword table: keyword, type,
//! language, place and description from any text a phone can send. Any panic is a bug.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn table() -> &'static intake::Keywords {
    static TABLE: OnceLock<intake::Keywords> = OnceLock::new();
    TABLE.get_or_init(|| intake::Keywords::builtin().expect("the built-in table parses"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = format!("{:?}", table().read(&text));
});
