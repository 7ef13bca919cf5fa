"""The benchmark: `bench/run` measures the relay beside PhoneBurner's simulator and a minimal relay."""
