//! The AT layer: talks to a GSM modem over a serial line.
//!
//! - [`codec`] cuts the byte stream into lines and the `> ` prompt, tolerating garbage;
//! - [`urc`] recognises unsolicited result codes by prefix;
//! - [`result`] recognises final result codes, [`error`] names the `+CMS`/`+CME` errors;
//! - [`commands`] has one typed struct per command and per answer;
//! - [`client`] runs one command at a time with its own timeout, routes URCs to a channel, treats
//!   end-of-file as "modem gone", and resynchronises after a timeout.
//!
//! Written here rather than taken from the `atat` crate: see docs/ARCHITECTURE.md for why.

pub mod client;
pub mod codec;
pub mod commands;
pub mod error;
pub mod params;
pub mod result;
pub mod urc;

pub use client::{AtClient, ClientOptions};
pub use codec::{AtCodec, AtFrame, AtRequest};
pub use commands::AtCommand;
pub use error::AtError;
pub use urc::Urc;
