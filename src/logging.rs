//! Log set-up: readable lines on a terminal; under systemd, the journal (with syslog priorities
//! and no timestamps of our own, since the journal adds them), falling back to plain stdout.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. `RUST_LOG` overrides the default level (`info`).
pub fn init(verbose: bool) {
    let default = if verbose { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // systemd sets JOURNAL_STREAM when stdout/stderr are connected to the journal.
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    if under_journald {
        match tracing_journald::layer() {
            Ok(journald) => {
                let _ = tracing_subscriber::registry()
                    .with(filter)
                    .with(journald.with_syslog_identifier("kufatilia-gateway".into()))
                    .try_init();
                return;
            }
            Err(e) => eprintln!("journald is not reachable ({e}); logging to stdout"),
        }
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .without_time()
            .with_ansi(false)
            .with_target(false)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// A phone number as it may appear in a log: enough to tell two reporters apart on one screen,
/// not enough to identify one (a report can put its sender at risk). Alphanumeric senders are
/// operators and shown as they are.
pub fn mask_number(number: Option<&str>) -> String {
    match number {
        None => "(unknown)".into(),
        Some(n) if n.chars().any(char::is_alphabetic) => n.to_string(),
        Some(n) => {
            let chars: Vec<char> = n.chars().collect();
            let keep = 3.min(chars.len());
            format!(
                "…{}",
                chars[chars.len() - keep..].iter().collect::<String>()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_operators_are_not() {
        assert_eq!(mask_number(Some("+243812345678")), "…678");
        assert_eq!(mask_number(Some("Vodacom")), "Vodacom");
        assert_eq!(mask_number(Some("12")), "…12");
        assert_eq!(mask_number(None), "(unknown)");
    }
}
