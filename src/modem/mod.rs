//! The modem link: one task per modem that keeps it initialised, moves every received message into
//! the store before deleting it from the SIM, sends the queued replies, and recovers from hangs and
//! unplugs on its own.

pub mod link;
pub mod port;
pub mod status;

pub use link::{ModemLink, ModemOptions};
pub use status::{LinkState, ModemStatus, StatusHandle};
