//! The AT layer: talks to a GSM modem over a serial line.
//!
//! - `codec` cuts the byte stream into lines and the `> ` prompt, tolerating garbage
//!   ([`AtCodec`]);
//! - `params` splits an answer line's parameters;
//! - `urc` recognises unsolicited result codes by prefix ([`classify_urc`]);
//! - `result` recognises final result codes ([`final_result`]), `error` names the `+CMS`/`+CME`
//!   errors ([`AtError`]);
//! - `storage` names the message storages ([`Storage`]);
//! - [`commands`] has one typed struct per command and per answer;
//! - [`transcript`] records a session line by line and reads such a record back (for
//!   `doctor --record` and the simulator's transcript personality);
//! - `client` runs one command at a time with its own timeout, routes URCs to a channel, treats
//!   end-of-file as "modem gone", and resynchronises after a timeout ([`AtClient`]).
//!
//! Dependencies between the modules point one way: `params`, `storage` and `error` use none;
//! `result` uses `error`; `commands` uses those; `urc` uses `commands` for the states it carries;
//! `codec` stands alone; `client` uses them all.
//!
//! Written here rather than taken from the `atat` crate: see docs/ARCHITECTURE.md for why.

mod client;
mod codec;
pub mod commands;
mod error;
mod params;
mod result;
mod storage;
pub mod transcript;
mod urc;

pub use client::{AtClient, ClientOptions};
pub use codec::{AtCodec, AtFrame, clean_line};
pub use commands::AtCommand;
pub use error::{AtError, CallResult, NoAnswer, cme_name};
pub use params::{Param, looks_like_pdu, params_after, split_params};
pub use result::{FinalResult, final_result};
pub use storage::Storage;
pub use urc::{Milestone, TwoLine, Urc, UrcMatch, classify_urc, complete_urc, continue_urc};
