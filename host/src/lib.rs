//! verge-host: everything verge does with files, data and processes.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
