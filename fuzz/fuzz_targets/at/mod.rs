//! The AT layer's parsing files, compiled from the gateway's source for the `at_lines` target
//! (without the client, which needs the whole gateway).

#[path = "../../../src/at/codec.rs"]
pub mod codec;
#[path = "../../../src/at/commands.rs"]
pub mod commands;
#[path = "../../../src/at/error.rs"]
pub mod error;
#[path = "../../../src/at/params.rs"]
pub mod params;
#[path = "../../../src/at/result.rs"]
pub mod result;
#[path = "../../../src/at/urc.rs"]
pub mod urc;
