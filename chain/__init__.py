"""Chain client for scf-ledger: profiles, artifacts, compile, deploy, signing, revert decoding."""
