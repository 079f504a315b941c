// Serde and toml errors in a technician's words: an unknown key with the closest known key
// suggested, a wrong value described as the file writes values ("a whole number", "a duration
// in quotes"), never as Rust types (`usize`, `Duration`).
//
// Compiled into `config` (as a module) and `intake` (through `include!`, so no `//!` here):
// the two files a technician edits explain their errors alike, and the leaf crates stay
// without workspace dependencies.

/// Serde's message made for a technician: an unknown key gets the closest known key as a
/// suggestion, and a value of the wrong kind is described in the file's words ("a whole
/// number"), never in Rust's (`usize`, `Duration`).
pub(crate) fn explain_serde_error(message: &str) -> String {
    let message = message.trim();
    let location = message
        .lines()
        .next()
        .and_then(|l| l.find(" at line ").map(|i| l[i + 4..].to_string()))
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    if let Some(plain) = explain_wrong_value(message) {
        return format!("{plain}{location}");
    }
    let Some(start) = message.find("unknown field `") else {
        return message.to_string();
    };
    let rest = &message[start + "unknown field `".len()..];
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = expected
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    let best = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(unknown, c), c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!("unknown key `{unknown}`{location}; did you mean `{c}`?"),
        None => format!(
            "unknown key `{unknown}`{location}; known keys here: {}",
            candidates.join(", ")
        ),
    }
}

/// "invalid type: string \"lots\", expected usize" → "\"lots\" is not a whole number (e.g.
/// 100)"; humantime's own messages for a bad duration likewise.
fn explain_wrong_value(message: &str) -> Option<String> {
    // toml puts the location and a snippet of the file first, serde's words on the last line.
    let first = message
        .lines()
        .rfind(|l| {
            !l.trim().is_empty() && !l.trim_start().starts_with(['|', '^']) && !l.contains(" | ")
        })
        .unwrap_or(message);
    let first = first.split(" at line ").next().unwrap_or(first).trim();
    if let Some(rest) = first
        .strip_prefix("invalid type: ")
        .or_else(|| first.strip_prefix("invalid value: "))
    {
        let (found, expected) = rest.rsplit_once(", expected ")?;
        let found = found
            .trim_start_matches("string ")
            .trim_start_matches("integer ")
            .trim_start_matches("floating point ")
            .trim_start_matches("boolean ")
            .replace('`', "");
        let found = match found.as_str() {
            "map" => "a [section]".to_string(),
            "sequence" => "a list".to_string(),
            _ => found,
        };
        return Some(format!("{found} is not {}", plain_kind(expected)));
    }
    // humantime_serde passes humantime's error through: a string that is no duration.
    let duration_words = [
        "time unit",
        "expected number",
        "number is too large",
        "duration",
    ];
    if duration_words.iter().any(|w| first.contains(w)) {
        return Some(format!(
            "{first}: write a duration in quotes, a number and a unit (e.g. \"500ms\", \"30s\", \"10min\", \"24h\")"
        ));
    }
    None
}

/// What a serde "expected ..." means, in the words of the config file.
fn plain_kind(expected: &str) -> String {
    let e = expected.trim().trim_matches('`');
    match e {
        "usize" | "u8" | "u16" | "u32" | "u64" | "an integer" | "a nonnegative integer" => {
            "a whole number of 0 or more (e.g. 100)".into()
        }
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number (e.g. 100)".into(),
        "f32" | "f64" | "a float" => "a number (e.g. 500 or 2.5)".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" | "a character" | "a path string" | "path string" => {
            "text in quotes (e.g. \"goma-01\")".into()
        }
        "a duration" | "struct Duration" => {
            "a duration in quotes (e.g. \"500ms\", \"30s\", \"10min\")".into()
        }
        "a sequence" => "a list in brackets (e.g. [\"a\", \"b\"])".into(),
        "a map" => "a [section] or { key = value } table".into(),
        other if other.starts_with("struct ") => "a [section] or { key = value } table".into(),
        other if other.starts_with("one of") || other.starts_with("variant") => other.into(),
        other => other.replace('`', ""),
    }
}
