//! Where samples come from: a built-in simulator, files in the paper's CSV
//! format, and MQTT topics on the gateway's local broker.

pub mod csv;
pub mod mqtt;
pub mod simulator;

pub use csv::{
    check_units, parse_paper_csv, read_paper_file, CsvIssue, PaperFile, Skipped, UnitsProblem,
};
pub use simulator::{Condition, PaperLoad, RrSimulator, SimParams};
