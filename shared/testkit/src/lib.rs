//! Helpers shared by the test suites: the event fixtures and the table of what each
//! answers (`fixtures`), published model configs (`configs`) and the models the
//! calculator's tests build on (`models`, `toys`), and a stand-in Hugging Face Hub
//! (`hub`). A dev-dependency only: nothing
//! deployed links it. The randomised tests use proptest.

pub mod configs;
pub mod fixtures;
pub mod hub;
pub mod models;
pub mod toys;
pub mod training;
