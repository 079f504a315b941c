//! The modem link: one task per modem that keeps it initialised, moves every received message into
//! the store before deleting it from the SIM, sends the queued replies (its own, and a fallen
//! modem's when it is that modem's fallback), and recovers from hangs and unplugs on its own.

mod clock;
mod link;
pub mod port;
mod status;
pub(crate) mod ussd;

pub use link::{BalanceRequest, ModemLink, ModemOptions};
pub(crate) use link::{personality_of, registration_word};
#[cfg(test)]
pub(crate) use status::StatusWriter;
pub use status::{LinkState, ModemStatus, Quirks, StatusHandle};
