//! VM config file (TOML) parsing and validation.
