//! Entity-table and training-set I/O (being built).
