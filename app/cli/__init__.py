"""The `glider` command line. Heavy imports stay inside commands so `--help` and startup are fast."""
