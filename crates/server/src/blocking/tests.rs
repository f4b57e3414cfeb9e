//! Tests of the blocking shell over socket pairs.
