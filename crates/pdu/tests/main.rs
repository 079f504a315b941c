//! The PDU codec's integration tests, one binary: published vectors and property tests.

mod props;
mod vectors;
