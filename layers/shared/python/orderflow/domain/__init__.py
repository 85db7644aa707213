"""Pure order-lifecycle logic: no I/O, no environment, no clock of its own."""
