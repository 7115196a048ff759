"""What every layer may use: error codes and domain errors, clock, ids, secret masking. No I/O."""
