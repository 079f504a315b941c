//! The modem link: one task per modem that keeps it initialised, moves every received message into
//! the store before deleting it from the SIM, sends the queued replies (its own, and a fallen
//! modem's when it is that modem's fallback), and recovers from hangs and unplugs on its own.

pub mod clock;
pub mod link;
pub mod port;
pub mod status;
pub mod ussd;

pub use link::{BalanceRequest, ModemLink, ModemOptions};
pub use status::{LinkState, ModemStatus, StatusHandle};
