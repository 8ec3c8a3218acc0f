//! The Cloudflare Worker (being built).
