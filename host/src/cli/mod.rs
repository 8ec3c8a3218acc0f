//! The `verge` subcommands (being built).
