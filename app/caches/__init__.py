"""Local caches of deltaspace references: memory LRU, content-addressed disk, encrypted wrapper."""
