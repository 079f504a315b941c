//! Fuzzes the configuration loaders: `gateway.toml` (`Config::parse`, with its defaults and
//! validation) and the keyword table (`Keywords::parse`) on any text. Either gives a value or an
//! error naming the key; any panic is a bug.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = config::Config::parse(text, Path::new("gateway.toml"), Path::new("/etc/kg")) {
        let _ = e.to_string();
    }
    match intake::Keywords::parse(text, Path::new("keywords.toml")) {
        Ok(k) => {
            let _ = k.read(text);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
