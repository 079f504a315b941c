//! The store's integration tests on a real SQLite file.

mod stages;
