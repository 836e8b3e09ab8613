"""Many runs into one table: compare, sweeps, their backends, tables and figures."""
