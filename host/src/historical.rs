//! Point-in-time joins (being built).
