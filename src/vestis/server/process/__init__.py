"""A process's wiring: state, runtime, engine loading, faults; may import fashn/ and below."""
