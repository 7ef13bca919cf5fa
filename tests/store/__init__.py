"""The durable-delivery core: the store, attempts, the worker and intake over a real store."""
