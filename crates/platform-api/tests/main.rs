//! The platform contract's integration tests: the OpenAPI document against the Rust types.

mod openapi;
